"""Expected table contents computed from the CSVs in plain Python, independently of DuckDB and
of the package's SQL."""

import csv
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def joined_rows(csv_dir: Path) -> list[dict]:
    """One dict per sale, with its rep's and product's fields (None where the key is unknown)."""
    reps = {row["rep_id"]: row for row in read_csv(csv_dir / "sales_reps.csv")}
    products = {row["product_id"]: row for row in read_csv(csv_dir / "products.csv")}
    joined = []
    for sale in read_csv(csv_dir / "sales_data.csv"):
        rep = reps.get(sale["rep_id"], {})
        product = products.get(sale["product_id"], {})
        joined.append(
            {
                "order_id": int(sale["order_id"]),
                "date": date.fromisoformat(sale["date"]),
                "dollar_amount": Decimal(sale["dollar_amount"]),
                "customer_name": sale["customer_name"],
                "quantity": int(sale["quantity"]),
                "rep_name": rep.get("rep_name"),
                "department": rep.get("department"),
                "hire_date": date.fromisoformat(rep["hire_date"]) if rep else None,
                "product_name": product.get("product_name"),
                "category": product.get("category"),
                "price": Decimal(product["price"]) if product else None,
            }
        )
    return joined


def monthly_sales_performance(csv_dir: Path) -> set[tuple]:
    """(partition_date 'YYYY-MM', rep_name, product, total_dollar_amount) rows."""
    totals: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in joined_rows(csv_dir):
        month = f"{row['date'].year:04d}-{row['date'].month:02d}"
        totals[(month, row["rep_name"], row["product_name"])] += row["dollar_amount"]
    return {(*key, total) for key, total in totals.items()}


def product_performance(csv_dir: Path) -> set[tuple]:
    """(product_category, product_name, total_dollar_amount, total_units_sold) rows."""
    dollars: dict[tuple, Decimal] = defaultdict(Decimal)
    units: dict[tuple, int] = defaultdict(int)
    for row in joined_rows(csv_dir):
        key = (row["category"], row["product_name"])
        dollars[key] += row["dollar_amount"]
        units[key] += row["quantity"]
    return {(*key, dollars[key], units[key]) for key in dollars}
