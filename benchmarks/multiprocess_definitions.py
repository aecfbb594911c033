"""The same assets on Dagster's default executor, one process per step: the baseline the
benchmark compares the project's in-process executor against."""

import dagster as dg

from etl_tutorial import definitions as tutorial

defs = dg.Definitions(
    assets=tutorial.defs.assets,
    resources=tutorial.defs.resources,
    executor=dg.multiprocess_executor,
)
