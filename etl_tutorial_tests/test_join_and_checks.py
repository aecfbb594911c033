from etl_tutorial_tests.conftest import UNPARTITIONED, rewrite_csv
from etl_tutorial_tests.expected import joined_rows

JOINED_COLUMNS = [
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


def _check(result, name="missing_dimension_check"):
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_joined_data_equals_an_independent_join_of_the_csvs(materialize, query, csv_dir):
    materialize(UNPARTITIONED)

    columns = ", ".join(JOINED_COLUMNS)
    actual = query(f"select {columns} from joined_data order by order_id")  # noqa: S608
    expected = [tuple(row[c] for c in JOINED_COLUMNS) for row in joined_rows(csv_dir)]
    assert actual == sorted(expected)


def test_every_check_passes_on_the_shipped_data(materialize):
    result = materialize(UNPARTITIONED)

    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 5
    assert all(evaluation.passed for evaluation in evaluations)
    assert _check(result).metadata["rows_missing_rep_or_product"].value == 0


def _point_sales_at_unknown_keys(csv_dir, unknown_rep_orders, unknown_product_orders):
    def edit(rows):
        order_id, rep_id, product_id = (
            rows[0].index(c) for c in ("order_id", "rep_id", "product_id")
        )
        for row in rows[1:]:
            if int(row[order_id]) in unknown_rep_orders:
                row[rep_id] = "R99"
            if int(row[order_id]) in unknown_product_orders:
                row[product_id] = "P999"

    rewrite_csv(csv_dir / "sales_data.csv", edit)


def test_dimension_check_fails_with_the_count_and_orders_of_unmatched_sales(materialize, csv_dir):
    _point_sales_at_unknown_keys(
        csv_dir, unknown_rep_orders={7, 300}, unknown_product_orders={300, 42}
    )

    result = materialize(UNPARTITIONED, raise_on_error=False)

    evaluation = _check(result)
    assert not evaluation.passed
    assert evaluation.metadata["rows_missing_rep_or_product"].value == 3
    assert evaluation.metadata["example_order_ids"].value == [7, 42, 300]
    # Unmatched sales are kept, not dropped by the join: the check is what reports them.
    (joined,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["joined_data"]
    ]
    assert joined.materialization.metadata["dagster/row_count"].value == len(joined_rows(csv_dir))
