"""Expected table contents computed from the CSVs with pandas: an engine independent of DuckDB
and of the package's SQL. Money stays exact (Decimal, never float)."""

from decimal import Decimal
from pathlib import Path

import pandas as pd

# How pandas reads each column: as text unless converted here.
CONVERTERS = {
    "products": {"price": Decimal},
    "sales_reps": {"hire_date": lambda value: pd.Timestamp(value).date()},
    "sales_data": {
        "order_id": int,
        "date": lambda value: pd.Timestamp(value).date(),
        "quantity": int,
        "dollar_amount": Decimal,
    },
}


# The columns of joined_data, and of an ad hoc report, in order.
JOINED_DATA_COLUMNS = [
    "order_id",
    "date",
    "dollar_amount",
    "customer_name",
    "quantity",
    "rep_name",
    "department",
    "hire_date",
    "product_name",
    "category",
    "price",
]
ADHOC_REPORT_COLUMNS = [
    "department",
    "rep_name",
    "product_name",
    "units_sold",
    "total_dollar_amount",
]


def read_csv(csv_dir: Path, table: str) -> pd.DataFrame:
    """One CSV as written, with its numbers and dates converted exactly. `utf-8-sig` accepts a
    byte-order mark, as a spreadsheet may write one."""
    frame = pd.read_csv(
        csv_dir / f"{table}.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    for column, convert in CONVERTERS[table].items():
        frame[column] = frame[column].map(convert)
    return frame


def rows(frame: pd.DataFrame) -> list[tuple]:
    """A frame's rows as tuples of plain Python values (None for a missing one)."""
    plain = frame.astype(object).where(frame.notna(), None)
    return list(plain.itertuples(index=False, name=None))


def joined_data(csv_dir: Path) -> pd.DataFrame:
    """Each sale with its rep's and product's fields, by order_id."""
    sales = read_csv(csv_dir, "sales_data")
    reps = read_csv(csv_dir, "sales_reps")
    products = read_csv(csv_dir, "products")
    joined = sales.merge(reps, on="rep_id", how="left").merge(products, on="product_id", how="left")
    return joined[JOINED_DATA_COLUMNS].sort_values("order_id")


def monthly_sales_performance(csv_dir: Path) -> set[tuple]:
    """(partition_date 'YYYY-MM', rep_name, product, total_dollar_amount) rows."""
    joined = joined_data(csv_dir)
    joined["month"] = [f"{day:%Y-%m}" for day in joined["date"]]
    totals = joined.groupby(["month", "rep_name", "product_name"])["dollar_amount"].sum()
    return set(rows(totals.reset_index()))


def product_performance(csv_dir: Path) -> set[tuple]:
    """(product_category, product_name, total_dollar_amount, total_units_sold) rows."""
    joined = joined_data(csv_dir)
    totals = joined.groupby(["category", "product_name"]).agg(
        dollars=("dollar_amount", "sum"), units=("quantity", "sum")
    )
    return {
        (category, name, dollars, int(units))
        for category, name, dollars, units in rows(totals.reset_index())
    }
