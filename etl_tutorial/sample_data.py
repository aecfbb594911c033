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

from etl_tutorial.csv_files import CSV_COLUMNS
from etl_tutorial.partitions import product_category_partition

DEFAULT_ROWS = 4000
DEFAULT_SEED = 2024
SALES_YEAR = 2024

# Per category (each of product_category_partition's keys): a price range in cents, and
# product names chosen to exercise CSV quoting: apostrophes, accents and commas in quoted fields.
CATALOGUE = {
    "Electronics": (
        (1999, 49999),
        [
            "Noise-Cancelling Headphones",
            'Laptop Stand, Aluminium 15"',
            "USB-C Hub",
            "4K Monitor",
            "Smart Speaker",
            "E-Reader",
            "Wireless Mouse",
            "Portable Charger, 20000 mAh",
        ],
    ),
    "Books": (
        (799, 4999),
        [
            "The Gardener's Year",
            "Cooking for One, Two and Four",
            "Café Society",
            "Data Pipelines in Practice",
            "A Traveller's Atlas",
            "Poems of the Señora",
            "Clean SQL",
            "The Long Weekend",
        ],
    ),
    "Home and Garden": (
        (999, 29999),
        [
            "Café Table, Oak",
            "Raised Garden Bed",
            "Watering Can",
            "Pruning Shears",
            "Outdoor Lantern",
            "Herb Planter, Set of 3",
            "Linen Tablecloth",
            "Compost Bin",
        ],
    ),
    "Clothing": (
        (999, 19999),
        [
            "Men's Rain Jacket",
            "Women's Wool Sweater",
            "Kids' Rain Boots",
            "Crêpe Scarf",
            "Denim Jacket",
            "Running Shoes",
            "Merino Socks, 3-Pack",
            "Sun Hat",
        ],
    ),
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


def generate(out: Path, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> Path:
    """Writes products.csv, sales_reps.csv and sales_data.csv into `out` and returns it."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)

    products = []
    categories = product_category_partition.get_partition_keys()
    if set(categories) != set(CATALOGUE):
        raise ValueError(
            f"the catalogue's categories {sorted(CATALOGUE)} are not the category partitions "
            f"{sorted(categories)}: give each partition its price range and products"
        )
    for category in categories:
        (low, high), names = CATALOGUE[category]
        for name in names:
            cents = rng.randrange(low, high, 100) + 99
            products.append((f"P{len(products) + 1:03d}", name, category, Decimal(cents) / 100))

    reps = []
    for name, department in SALES_REPS:
        hired = date(2015, 1, 1) + timedelta(days=rng.randrange(9 * 365))
        reps.append((f"R{len(reps) + 1:02d}", name, department, hired.isoformat()))

    _write(out, "products", products)
    _write(out, "sales_reps", reps)
    _write(out, "sales_data", _sales(rng, rows, products, reps))
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


def _write(out: Path, table: str, rows) -> None:
    with (out / f"{table}.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_COLUMNS[table])
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
