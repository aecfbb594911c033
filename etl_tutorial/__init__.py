import warnings

import dagster as dg

# Dagster 1.13 marks these as beta: single-run backfills, observable sources and links to the
# source code (with the classes that record them) are deliberate choices of this project, so
# their warnings (and no other) are not repeated on every import.
for beta in (
    "Parameter `backfill_policy`",
    "Function `observable_source_asset`",
    "Function `with_source_code_references`",
    "Class `LocalFileCodeReference`",
    "Class `CodeReferencesMetadataValue`",
):
    warnings.filterwarnings("ignore", message=beta, category=dg.BetaWarning)
