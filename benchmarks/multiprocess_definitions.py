"""This project's code location on Dagster's default executor, one process per step: its
assets, resources and `duckdb` pool unchanged. The baseline the benchmark compares the
project's in-process executor against."""

import dagster as dg

from etl_tutorial import definitions as project

defs = dg.Definitions(
    assets=project.defs.assets,
    resources=project.defs.resources,
    executor=dg.multiprocess_executor,
)
