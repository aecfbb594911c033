"""The sales overview: its charts, the numbers behind them, and what it says before there is
anything to draw."""

import base64
import io
import re
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from etl_tutorial import overview
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import markdown_table, materializer

DATA_URI = re.compile(r"^!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)$")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _revenue_per_month(csv_dir: Path) -> list[list[str]]:
    sales = expected.read_csv(csv_dir, "sales_data")
    sales["month"] = [f"{day:%Y-%m}" for day in sales["date"]]
    totals = sales.groupby("month")["dollar_amount"].sum().sort_index()
    return [[month, _money(revenue)] for month, revenue in totals.items()]


def _revenue_per_product(csv_dir: Path) -> list[list[str]]:
    totals = expected.joined_data(csv_dir).groupby(["category", "product_name"])["dollar_amount"]
    rows = sorted(totals.sum().items(), key=lambda item: (item[0][0], -item[1], item[0][1]))
    return [[category, product, _money(revenue)] for (category, product), revenue in rows]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory, published_database, sample_csvs, instance) -> tuple[dict, Path]:
    """sales_overview materialized once from the published tables (drawing is the slow part),
    for the tests that only read what it reported: its metadata, and its database."""
    database = tmp_path_factory.mktemp("overview") / "test.duckdb"
    shutil.copy(published_database, database)
    run = materializer(database, sample_csvs, instance)
    (event,) = run(["sales_overview"]).get_asset_materialization_events()
    return event.materialization.metadata, database


def test_the_numbers_behind_the_charts_equal_an_independent_computation(drawn, sample_csvs):
    metadata, _database = drawn

    months = markdown_table(metadata["revenue_per_month_numbers"].value)
    assert months.headers == ["month", "revenue"]
    assert months.rows == _revenue_per_month(sample_csvs)
    products = markdown_table(metadata["revenue_per_product_numbers"].value)
    assert products.headers == ["category", "product", "revenue"]
    assert products.rows == _revenue_per_product(sample_csvs)


def _pixels(png: bytes) -> np.ndarray:
    return image.imread(io.BytesIO(png), format="png")


def test_each_chart_is_a_drawn_png_shown_in_the_ui_and_written_to_the_chart_folder(drawn):
    metadata, database = drawn

    for chart, (min_width, min_height) in {
        "revenue_per_month": (800, 300),
        "revenue_per_product": (800, 500),
    }.items():
        path = Path(metadata[f"{chart}_file"].value)
        assert path == database.parent / "charts" / f"{chart}.png"
        (encoded,) = DATA_URI.fullmatch(metadata[chart].value).groups()
        png = base64.b64decode(encoded)
        assert png == path.read_bytes()
        pixels = _pixels(png)
        height, width, _ = pixels.shape
        assert min_width <= width <= 2400 and min_height <= height <= 2400, (chart, pixels.shape)
        # Not blank: bars, axes and labels give it many colours, and much of it is not white.
        rgb = (pixels[..., :3] * 255).round().astype(np.int64)
        colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
        assert len(colours) > 50, chart
        assert (pixels[..., :3] < 0.9).any(axis=2).mean() > 0.05, chart


def test_with_no_sales_yet_the_overview_says_so_and_draws_nothing(materialize, database):
    (event,) = materialize(["sales_overview"]).get_asset_materialization_events()

    metadata = event.materialization.metadata
    assert set(metadata) == {"overview"}
    assert metadata["overview"].value.startswith(
        "No sales to chart yet: monthly_sales_performance and product_performance have no rows."
    )
    assert not (database.parent / "charts").exists()


def test_with_one_analysis_table_empty_the_overview_names_it_and_draws_nothing(
    published, materialize, query, database
):
    query("delete from product_performance")

    (event,) = materialize(["sales_overview"]).get_asset_materialization_events()

    assert event.materialization.metadata["overview"].value.startswith(
        "No sales to chart yet: product_performance has no rows."
    )
    assert not (database.parent / "charts").exists()


def test_the_month_chart_has_a_bar_per_month_as_tall_as_its_revenue():
    rows = [("2024-01", Decimal("120.50")), ("2024-02", Decimal("80.00")), ("2024-04", Decimal(3))]

    (axes,) = overview.per_month(rows).axes

    assert [bar.get_height() for bar in axes.patches] == [120.5, 80.0, 3.0]
    assert [label.get_text() for label in axes.get_xticklabels()] == [
        "2024-01",
        "2024-02",
        "2024-04",
    ]


def test_the_product_chart_has_a_panel_per_category_with_its_products_largest_on_top():
    rows = [
        ("Books", "Atlas", Decimal(300)),
        ("Books", "Poems", Decimal(100)),
        ("Clothing", "Scarf", Decimal(50)),
        ("Electronics", "Mouse", Decimal(70)),
        ("Electronics", "Hub", Decimal(20)),
    ]

    figure = overview.per_product(rows)

    shown = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_title() for axes in shown] == ["Books", "Clothing", "Electronics"]
    # Three categories in two columns: the fourth panel is hidden, not drawn empty.
    assert len(figure.axes) == 4 and not figure.axes[3].get_visible()
    bars = {
        axes.get_title(): [
            (label.get_text(), bar.get_width())
            for label, bar in zip(axes.get_yticklabels(), axes.patches, strict=True)
        ]
        for axes in shown
    }
    # Bars are drawn bottom up: the largest, first in the rows, is last.
    assert bars == {
        "Books": [("Poems", 100.0), ("Atlas", 300.0)],
        "Clothing": [("Scarf", 50.0)],
        "Electronics": [("Hub", 20.0), ("Mouse", 70.0)],
    }


@pytest.mark.parametrize(
    "value, label",
    [(0, "$0"), (950, "$950"), (2_500, "$2.5k"), (240_000, "$240k"), (1_250_000, "$1.25M")],
)
def test_money_axis_labels_keep_three_significant_digits(value, label):
    assert overview.dollars(value) == label
