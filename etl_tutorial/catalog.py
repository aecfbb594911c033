"""What the UI's Definition panel shows about an asset besides its code: the table it is
stored as, and the line that declares it."""

import inspect
from collections.abc import Callable

import dagster as dg


def stored_as(table: str) -> dict[str, str]:
    """The asset is the DuckDB table `table` (in schema main of the database file)."""
    return {"dagster/table_name": f"main.{table}"}


def declared_here(*functions: Callable) -> dict[str, dg.CodeReferencesMetadataValue]:
    """Links to the line that called the factory calling this, where a factory-made asset is
    declared, and to the first line of each of `functions`. (`with_source_code_references`
    adds the line of an asset's own function, but not of an observable source's.)"""
    caller = inspect.currentframe().f_back.f_back
    lines = [(caller.f_code.co_filename, caller.f_lineno)] + [
        (inspect.getsourcefile(function), inspect.getsourcelines(function)[1])
        for function in functions
    ]
    return {
        "dagster/code_references": dg.CodeReferencesMetadataValue(
            code_references=[
                dg.LocalFileCodeReference(file_path=path, line_number=line) for path, line in lines
            ]
        )
    }
