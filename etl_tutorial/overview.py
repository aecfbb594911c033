"""The sales overview: revenue per month, and revenue per product within each category, drawn
as PNG charts that show in Dagster's UI and are written to a folder, with the numbers behind
each chart."""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from etl_tutorial import queries
from etl_tutorial.metadata import rows_as_markdown

# matplotlib is imported where a chart is drawn, so that the run processes that draw nothing
# (an observation each minute) do not pay for importing it.
if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Both charts are drawn from these tables; until each has rows there is nothing to draw.
CHARTED_TABLES = ("monthly_sales_performance", "product_performance")
DPI = 100
# Inches: both charts are 1000 px wide, so that Dagster's dialog (80% of the window) shows each
# whole on a 1440 px screen.
WIDTH = 10


class ChartFolder(dg.ConfigurableResource):
    """The folder the sales overview writes its charts to, as PNG files."""

    path: str


def draw_overview(conn: duckdb.DuckDBPyConnection, folder: ChartFolder) -> dg.MaterializeResult:
    """Both charts, drawn from the analysis tables, shown in the metadata with their numbers
    and written to `folder`; or, before there are sales to draw, a note saying so."""
    empty = [table for table in CHARTED_TABLES if not _has_rows(conn, table)]
    if empty:
        return dg.MaterializeResult(
            metadata={
                "overview": dg.MetadataValue.md(
                    f"No sales to chart yet: {' and '.join(empty)} "
                    f"{'has' if len(empty) == 1 else 'have'} no rows. Materialize "
                    "(or backfill) every partition of both, and this overview follows."
                )
            }
        )
    metadata = {
        **_chart(conn, folder, "revenue_per_month", queries.REVENUE_PER_MONTH, per_month),
        **_chart(conn, folder, "revenue_per_product", queries.REVENUE_PER_PRODUCT, per_product),
    }
    # The UI lists metadata in this order: both charts first, each one click away on the asset
    # page ("[Show Markdown]"), before a long table of numbers pushes the second one down.
    charts = {name: metadata[name] for name in ("revenue_per_month", "revenue_per_product")}
    return dg.MaterializeResult(metadata={**charts, **metadata})


def _chart(
    conn: duckdb.DuckDBPyConnection, folder: ChartFolder, name: str, sql: str, draw
) -> dict[str, object]:
    """One chart's metadata: the PNG drawn by `draw` from the rows of `sql`, embedded so the UI
    shows it; the rows themselves as a table; and the path of the PNG written to `folder`."""
    rows, numbers = rows_as_markdown(conn.execute(sql))
    png = _png(draw(rows))
    path = _write(Path(folder.path) / f"{name}.png", png)
    image = f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"
    return {
        name: dg.MetadataValue.md(f"![{name.replace('_', ' ')}]({image})"),
        f"{name}_numbers": numbers,
        f"{name}_file": dg.MetadataValue.path(str(path)),
    }


def dollars(value: float, _position: int | None = None) -> str:
    """An axis label with three significant digits at most: $950, $2.5k, $240k, $1.2M."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:.3g}{suffix}"
    return f"${value:.3g}"


def per_month(rows: Sequence[tuple[str, Decimal]]) -> Figure:
    """A bar per month ('YYYY-MM', revenue), oldest first."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, 4), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    axes.bar([month for month, _ in rows], [float(revenue) for _, revenue in rows])
    axes.set_title("Revenue per month")
    axes.yaxis.set_major_formatter(dollars)
    axes.tick_params(axis="x", labelrotation=90, labelsize=8)
    axes.grid(axis="y", alpha=0.3)
    return figure


def per_product(rows: Sequence[tuple[str, str, Decimal]]) -> Figure:
    """One panel per category, a bar per product (category, product, revenue) in the order of
    `rows`, the first on top."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    categories = list(dict.fromkeys(category for category, _, _ in rows))
    columns = 2 if len(categories) > 1 else 1
    lines = math.ceil(len(categories) / columns)
    figure = Figure(figsize=(WIDTH, 3.2 * lines), dpi=DPI, layout="constrained")
    figure.suptitle("Revenue per product, by category")
    panels = figure.subplots(lines, columns, squeeze=False).flatten()
    for axes, category in zip(panels, categories, strict=False):
        products = [(product, revenue) for name, product, revenue in rows if name == category]
        # barh draws its first bar at the bottom.
        axes.barh(
            [product for product, _ in reversed(products)],
            [float(revenue) for _, revenue in reversed(products)],
            color="tab:cyan",
        )
        axes.set_title(category)
        axes.xaxis.set_major_formatter(dollars)
        axes.xaxis.set_major_locator(MaxNLocator(5))
        axes.tick_params(axis="y", labelsize=8)
        axes.grid(axis="x", alpha=0.3)
    # An odd number of categories leaves the last panel without one.
    for axes in panels[len(categories) :]:
        axes.set_visible(False)
    return figure


def _has_rows(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `table` (one of this module's own names) exists and has a row."""
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
