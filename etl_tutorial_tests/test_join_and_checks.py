"""The join, its blocking checks, and the reconciliation of each partitioned asset."""

import dataclasses

import pytest

from etl_tutorial import queries
from etl_tutorial.audits import EXAMPLES
from etl_tutorial.definitions import defs
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    ALL_CATEGORIES,
    ALL_MONTHS,
    UNPARTITIONED,
    check_evaluation,
    materialized,
    step_failure,
)


def test_joined_data_equals_an_independent_join_of_the_csvs(published, query, sample_csvs):
    """`published` built joined_data from the sample CSVs."""
    joined = expected.joined_data(sample_csvs)
    columns = ", ".join(joined.columns)
    actual = query(f"select {columns} from joined_data order by order_id")  # noqa: S608
    assert actual == expected.rows(joined)


def test_every_check_passes_on_the_sample_data_and_is_attached_to_its_materialization(
    materialize,
):
    result = materialize(UNPARTITIONED)

    evaluations = result.get_asset_check_evaluations()
    declared = {
        key
        for key in defs.resolve_asset_graph().asset_check_keys
        if key.asset_key.to_user_string() in UNPARTITIONED
    }
    assert {e.asset_check_key for e in evaluations} == declared
    assert all(evaluation.passed for evaluation in evaluations)
    assert materialized(result) == set(UNPARTITIONED)


def _months_with_a_one_unit_sale(csv_dir) -> list[str]:
    sales = expected.read_csv(csv_dir, "sales_data")
    return sorted({f"{day:%Y-%m}" for day in sales.loc[sales["quantity"] == 1, "date"]})


def _categories_with_sales(csv_dir) -> list[str]:
    return sorted(set(expected.joined_data(csv_dir)["category"]))


# An aggregation with a bug, and the partitions whose totals it changes (from pandas).
BUGGY_AGGREGATIONS = {
    "months lose their one-unit sales": (
        "monthly_sales_performance",
        "MONTHLY_SALES_PERFORMANCE",
        ("where date >= $start", "where quantity > 1 and date >= $start"),
        ALL_MONTHS,
        _months_with_a_one_unit_sale,
    ),
    "categories count units twice": (
        "product_performance",
        "PRODUCT_PERFORMANCE",
        ("sum(quantity)::bigint", "(2 * sum(quantity))::bigint"),
        ALL_CATEGORIES,
        _categories_with_sales,
    ),
}


@pytest.mark.parametrize(
    "asset, sql, change, partition_range, wrong_partitions",
    BUGGY_AGGREGATIONS.values(),
    ids=BUGGY_AGGREGATIONS.keys(),
)
def test_reconciliation_refuses_and_names_the_partitions_whose_totals_differ_from_joined_data(
    asset,
    sql,
    change,
    partition_range,
    wrong_partitions,
    published,
    changed_since_published,
    csv_dir,
    materialize,
    monkeypatch,
):
    correct = getattr(queries, sql)
    buggy = correct.select.replace(*change)
    assert buggy != correct.select
    monkeypatch.setattr(queries, sql, dataclasses.replace(correct, select=buggy))

    result = materialize([asset], partition_range=partition_range, raise_on_error=False)

    wrong = wrong_partitions(csv_dir)
    assert wrong
    evaluation = check_evaluation(result, asset, "totals_match_joined_data")
    assert not evaluation.passed
    assert evaluation.metadata["partitions_with_other_totals"].value == len(wrong)
    assert evaluation.metadata["example_partitions"].value == wrong[:EXAMPLES]
    assert (
        f"{asset}: the totals of {len(wrong)} partition(s) differ from joined_data's "
        f"({', '.join(wrong[:EXAMPLES])}); the write was rolled back."
    ) in step_failure(result)
    assert asset not in materialized(result)
    # The rewrite was rolled back: every partition keeps its last good rows.
    assert changed_since_published() == []
