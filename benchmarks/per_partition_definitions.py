"""This project's code location with one run per partition: its assets, resources and `duckdb`
pool, each partitioned asset backfilled by `BackfillPolicy.multi_run(max_partitions_per_run=1)`,
and no executor given, so Dagster's default multiprocess executor. The baseline the benchmark
compares the project's single-run backfills against."""

import dagster as dg

from etl_tutorial import definitions as project

one_run_per_partition = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

defs = dg.Definitions(
    assets=[
        asset.with_attributes(backfill_policy=one_run_per_partition)
        if asset.partitions_def
        else asset
        for asset in project.defs.assets
    ],
    resources=project.defs.resources,
)
