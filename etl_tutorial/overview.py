"""The sales overview: revenue per month, and revenue per product within each category, drawn
as PNG charts that show in Dagster's UI and are written to a folder, with the numbers behind
each chart."""

import base64
import io
import math
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from etl_tutorial import queries
from etl_tutorial.tables import markdown_table

# Both charts come from these tables; until each has rows there is nothing to draw.
SOURCES = ("monthly_sales_performance", "product_performance")
DPI = 100


class ChartFolder(dg.ConfigurableResource):
    """The folder the sales overview writes its charts to, as PNG files."""

    path: str


def sales_overview(conn: duckdb.DuckDBPyConnection, folder: ChartFolder) -> dg.MaterializeResult:
    """Both charts, drawn from the analysis tables, embedded in the metadata and written to
    `folder`; or, before there are sales to draw, a note saying so."""
    missing = [table for table in SOURCES if not _has_rows(conn, table)]
    if missing:
        return dg.MaterializeResult(
            metadata={
                "overview": dg.MetadataValue.md(
                    f"No sales to chart yet: {' and '.join(missing)} "
                    f"{'has' if len(missing) == 1 else 'have'} no rows. Materialize "
                    "(or backfill) every partition of both, and this overview follows."
                )
            }
        )
    charts = {
        "revenue_per_month": (queries.REVENUE_PER_MONTH, revenue_per_month),
        "revenue_per_product": (queries.REVENUE_PER_PRODUCT, revenue_per_product),
    }
    metadata: dict[str, object] = {}
    for name, (sql, draw) in charts.items():
        cursor = conn.execute(sql)
        headers = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
        png = draw(rows)
        path = _write(Path(folder.path) / f"{name}.png", png)
        metadata[name] = dg.MetadataValue.md(
            f"![{name.replace('_', ' ')}](data:image/png;base64,"
            f"{base64.b64encode(png).decode('ascii')})"
        )
        metadata[f"{name}_numbers"] = markdown_table(headers, rows)
        metadata[f"{name}_file"] = dg.MetadataValue.path(str(path))
    return dg.MaterializeResult(metadata=metadata)


def _dollars(value: float, _position: int) -> str:
    """An axis label: $950, $25k, $1.2M."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:,.{1 if suffix == 'M' else 0}f}{suffix}"
    return f"${value:,.0f}"


MONEY = FuncFormatter(_dollars)


def revenue_per_month(rows: Sequence[tuple[str, Decimal]]) -> bytes:
    """A bar per month ('YYYY-MM', revenue), oldest first."""
    figure = Figure(figsize=(10, 4), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    months = [month for month, _ in rows]
    axes.bar(months, [float(revenue) for _, revenue in rows], color="#4f46e5")
    axes.set_title("Revenue per month")
    axes.yaxis.set_major_formatter(MONEY)
    axes.tick_params(axis="x", labelrotation=90, labelsize=8)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def revenue_per_product(rows: Sequence[tuple[str, str, Decimal]]) -> bytes:
    """One panel per category, a bar per product (category, product, revenue), largest on top."""
    categories = list(dict.fromkeys(category for category, _, _ in rows))
    columns = 2 if len(categories) > 1 else 1
    lines = math.ceil(len(categories) / columns)
    figure = Figure(figsize=(12, 3.2 * lines), dpi=DPI, layout="constrained")
    figure.suptitle("Revenue per product, by category")
    panels = figure.subplots(lines, columns, squeeze=False).flat
    for axes, category in zip(panels, categories, strict=False):
        products = [(product, revenue) for cat, product, revenue in rows if cat == category]
        axes.barh(
            [product for product, _ in reversed(products)],
            [float(revenue) for _, revenue in reversed(products)],
            color="#0891b2",
        )
        axes.set_title(category)
        axes.xaxis.set_major_formatter(MONEY)
        axes.xaxis.set_major_locator(MaxNLocator(5))
        axes.tick_params(axis="y", labelsize=8)
        axes.grid(axis="x", alpha=0.3)
    for axes in list(panels):
        axes.set_visible(False)  # an odd number of categories leaves one panel empty
    return _png(figure)


def _has_rows(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    (exists,) = conn.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(exists) and conn.execute(f"select exists (from {table})").fetchone()[0]  # noqa: S608


def _png(figure: Figure) -> bytes:
    # A Figure made without pyplot draws with Agg, a non-interactive backend, and holds no
    # global state, so drawing is safe in any process and thread.
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _write(path: Path, content: bytes) -> Path:
    """Writes `path` whole or not at all: a reader never sees half a chart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".png.partial")
    partial.write_bytes(content)
    os.replace(partial, path)
    return path
