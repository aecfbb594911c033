"""Deterministic sample data: products, sales reps and a year of sales as CSV files.

The shipped files in data/ come from the defaults; tests and benchmarks call the same
generator for other sizes:

    python -m etl_tutorial.sample_data --rows 1000000 --out /tmp/sales
"""

import argparse
import csv
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

DEFAULT_ROWS = 4000
DEFAULT_SEED = 2024
SALES_YEAR = 2024

# Names are chosen to exercise CSV quoting: apostrophes, accents and commas in quoted fields.
PRODUCTS_BY_CATEGORY = {
    "Electronics": [
        "Noise-Cancelling Headphones",
        'Laptop Stand, Aluminium 15"',
        "USB-C Hub",
        "4K Monitor",
        "Smart Speaker",
        "E-Reader",
        "Wireless Mouse",
        "Portable Charger, 20000 mAh",
    ],
    "Books": [
        "The Gardener's Year",
        "Cooking for One, Two and Four",
        "Café Society",
        "Data Pipelines in Practice",
        "A Traveller's Atlas",
        "Poems of the Señora",
        "Clean SQL",
        "The Long Weekend",
    ],
    "Home and Garden": [
        "Café Table, Oak",
        "Raised Garden Bed",
        "Watering Can",
        "Pruning Shears",
        "Outdoor Lantern",
        "Herb Planter, Set of 3",
        "Linen Tablecloth",
        "Compost Bin",
    ],
    "Clothing": [
        "Men's Rain Jacket",
        "Women's Wool Sweater",
        "Kids' Rain Boots",
        "Crêpe Scarf",
        "Denim Jacket",
        "Running Shoes",
        "Merino Socks, 3-Pack",
        "Sun Hat",
    ],
}
PRICE_RANGE_BY_CATEGORY = {
    "Electronics": (1999, 49999),
    "Books": (799, 4999),
    "Home and Garden": (999, 29999),
    "Clothing": (999, 19999),
}
SALES_REPS = [
    ("Seán O'Brien", "Enterprise"),
    ("Zoë Müller", "Enterprise"),
    ("José García", "Enterprise"),
    ("Amélie Dubois", "Mid-Market"),
    ("Nils Åberg", "Mid-Market"),
    ("Priya Natarajan", "Mid-Market"),
    ("Chloé D'Angelo", "Small Business"),
    ("Mateo Pérez", "Small Business"),
    ("Aoife Ní Bhriain", "Small Business"),
    ("Jean-Luc Lefèvre", "Online"),
    ("Dana Whitfield", "Online"),
    ("Kwame Mensah", "Online"),
]
CUSTOMER_NAMES = [
    "Smith, Jones & Co.",
    "O'Reilly Hardware",
    "Bäckerei Schäfer",
    "Café Lumière",
    "Northwind Traders",
    "Acme, Inc.",
    "Müller & Söhne",
    "Blue Door Books",
    "Greenleaf Garden Centre",
    "São Paulo Imports",
    "The Tailor's Shop",
    "Harbour View Hotel",
    "Peña Distribución",
    "Fjord & Field",
    "Riverside School",
    "Kowalski Electronics",
]

PRODUCT_COLUMNS = ["product_id", "product_name", "category", "price"]
SALES_REP_COLUMNS = ["rep_id", "rep_name", "department", "hire_date"]
SALES_COLUMNS = [
    "order_id",
    "date",
    "product_id",
    "rep_id",
    "customer_name",
    "quantity",
    "dollar_amount",
]


def generate(out: Path, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> Path:
    """Writes products.csv, sales_reps.csv and sales_data.csv into `out` and returns it."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)

    products = []
    for category, names in PRODUCTS_BY_CATEGORY.items():
        low, high = PRICE_RANGE_BY_CATEGORY[category]
        for name in names:
            cents = rng.randrange(low, high, 100) + 99
            products.append((f"P{len(products) + 1:03d}", name, category, Decimal(cents) / 100))

    reps = []
    for name, department in SALES_REPS:
        hired = date(2015, 1, 1) + timedelta(days=rng.randrange(9 * 365))
        reps.append((f"R{len(reps) + 1:02d}", name, department, hired.isoformat()))

    _write(out / "products.csv", PRODUCT_COLUMNS, products)
    _write(out / "sales_reps.csv", SALES_REP_COLUMNS, reps)
    _write(out / "sales_data.csv", SALES_COLUMNS, _sales(rng, rows, products, reps))
    return out


def _sales(rng: random.Random, rows: int, products: list, reps: list):
    """Yields `rows` sales spread evenly over the year, in date order like a real order log."""
    first_day = date(SALES_YEAR, 1, 1)
    days = (date(SALES_YEAR + 1, 1, 1) - first_day).days
    day_names = [(first_day + timedelta(days=d)).isoformat() for d in range(days)]
    for order_id in range(1, rows + 1):
        product_id, _, _, price = rng.choice(products)
        quantity = rng.randint(1, 20)
        yield (
            order_id,
            day_names[(order_id - 1) * days // rows],
            product_id,
            rng.choice(reps)[0],
            rng.choice(CUSTOMER_NAMES),
            quantity,
            price * quantity,
        )


def _write(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="number of sales rows")
    parser.add_argument("--out", type=Path, default=Path("data"), help="folder to write into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    generate(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
