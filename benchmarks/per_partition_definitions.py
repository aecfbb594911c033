"""The same code location with one run per partition, as the public tutorial backfills: the
baseline the benchmark compares single-run backfills against."""

import dagster as dg

from etl_tutorial import definitions as tutorial

one_run_per_partition = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

defs = dg.Definitions(
    assets=[
        asset.with_attributes(backfill_policy=one_run_per_partition)
        if asset.partitions_def
        else asset
        for asset in tutorial.defs.assets
    ],
    resources=tutorial.defs.resources,
)
