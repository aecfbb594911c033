"""Ad hoc report requests: their config, the folder they are dropped into, how the sensor
turns new or changed request files into run requests, and what a report says it answers."""

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import ConfigDict, ValidationError, field_validator, model_validator

from etl_tutorial import queries
from etl_tutorial.metadata import rows_as_markdown

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What "Materialize all" in the UI reports when no request is given: the sample request
# shipped with the package (README copies it into the request folder as an example).
SAMPLE_REQUEST = json.loads((Path(__file__).parent / "sample_request.json").read_text())


class AdhocRequestConfig(dg.Config):
    """Sales of one product by the reps of one department, from start_date up to (not
    including) end_date, both written YYYY-MM-DD. Without config, the sample request."""

    model_config = ConfigDict(extra="forbid")

    department: str = SAMPLE_REQUEST["department"]
    product: str = SAMPLE_REQUEST["product"]
    start_date: str = SAMPLE_REQUEST["start_date"]
    end_date: str = SAMPLE_REQUEST["end_date"]

    @field_validator("start_date", "end_date")
    @classmethod
    def _is_a_date(cls, value: str) -> str:
        # Only the one format README documents: Python alone would also take 20240101.
        if not ISO_DATE.fullmatch(value):
            raise ValueError(f"{value!r} is not a date written YYYY-MM-DD")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a day of the calendar") from None
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> "AdhocRequestConfig":
        start, end = self.dates()
        if end <= start:
            raise ValueError(f"end_date {end} is not after start_date {start}")
        return self

    def dates(self) -> tuple[date, date]:
        return date.fromisoformat(self.start_date), date.fromisoformat(self.end_date)

    def parameters(self) -> list[object]:
        """The values for queries.ADHOC_REQUEST's placeholders, in order."""
        return [self.department, self.product, *self.dates()]

    def summary(self, row_count: int) -> str:
        """The report in one sentence, plain about a report without sales."""
        reps = f"{row_count} rep{'' if row_count == 1 else 's'}" if row_count else "No rep"
        return (
            f"{reps} of {self.department} sold {self.product} "
            f"from {self.start_date} up to {self.end_date} (end date excluded)."
        )


# The run tags of a request file's run: adhoc/file, adhoc/department, adhoc/product,
# adhoc/start_date and adhoc/end_date, so runs can be found and filtered by what they answer.
# Run tags take any text, so each is the request's own, exactly.
TAG_PREFIX = "adhoc/"
FILE_TAG = f"{TAG_PREFIX}file"


def request_tags(config: AdhocRequestConfig, file_name: str) -> dict[str, str]:
    """The tags of the run a request file asks for."""
    fields = {"file": file_name, **config.model_dump()}
    return {f"{TAG_PREFIX}{field}": value for field, value in fields.items()}


def request_metadata(config: AdhocRequestConfig, run_tags: Mapping[str, str]) -> dict[str, str]:
    """The request a report answers, and its file when the run came from one (a run launched
    from the UI has none)."""
    request_file = {"request_file": run_tags[FILE_TAG]} if FILE_TAG in run_tags else {}
    return {**config.model_dump(), **request_file}


def report(
    conn: duckdb.DuckDBPyConnection, config: AdhocRequestConfig, run_tags: Mapping[str, str]
) -> dg.MaterializeResult:
    """The report for one request: its rows as a table, with the request it answers."""
    # A misspelt name fails here; a known one without sales in the dates reports 0 rows.
    require_known_names(conn, config)
    rows, result = rows_as_markdown(conn.execute(queries.ADHOC_REQUEST, config.parameters()))
    return dg.MaterializeResult(
        metadata={
            **request_metadata(config, run_tags),
            "summary": config.summary(len(rows)),
            "dagster/row_count": len(rows),
            "result": result,
        }
    )


def require_known_names(conn: duckdb.DuckDBPyConnection, config: AdhocRequestConfig) -> None:
    """Fails the run if the department or product is not in joined_data, naming the nearest
    names it has. The request's values never enter the SQL: the names are read whole."""
    departments, products = conn.execute(queries.ADHOC_REQUEST_NAMES).fetchone()
    unknown = [
        f"The {field} {value!r} is not in joined_data (nearest: {_nearest(value, names)})."
        for field, value, names in [
            ("department", config.department, departments or []),
            ("product", config.product, products or []),
        ]
        if value not in names
    ]
    if unknown:
        raise dg.Failure(
            description=" ".join(unknown),
            metadata={"department": config.department, "product": config.product},
            allow_retries=False,
        )


def _nearest(value: str, names: list[str]) -> str:
    nearest = difflib.get_close_matches(value, names, n=3, cutoff=0)
    return ", ".join(repr(name) for name in nearest) or "none, it is empty"


class RequestFolder(dg.ConfigurableResource):
    """The folder the ad hoc request sensor watches for *.json files."""

    path: str


@dataclass
class RequestScan:
    run_requests: list[dg.RunRequest]
    skipped: list[str]  # one line per file that cannot be used, naming it and what is wrong
    skip_reason: str | None  # what the tick shows when it requests no run
    cursor: str


def scan_requests(folder: Path, cursor: str | None) -> RequestScan:
    """One run request per request file that is new or changed since `cursor`.

    The cursor maps file names to modification times. A file that cannot be used is reported
    in `skipped` and as the tick's skip reason, then remembered like the others, so it is
    reported once, and again only after it changes. A tick shows either the runs it requested
    or a skip reason, never both (dg.SensorResult refuses both), so a tick with runs leaves
    such files out of its cursor: the next tick finds them again and reports them.
    """
    seen: dict[str, float] = json.loads(cursor) if cursor else {}
    current: dict[str, float] = {}
    run_requests, problems = [], {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        modified = path.stat().st_mtime
        current[path.name] = modified
        if seen.get(path.name) == modified:
            continue
        try:
            config = AdhocRequestConfig(**_read_object(path))
        except (ValueError, ValidationError) as error:
            problems[path.name] = _describe(error)
            continue
        run_requests.append(
            dg.RunRequest(
                run_key=f"{path.name}:{modified}",
                run_config=dg.RunConfig({"adhoc_request": config}),
                tags=request_tags(config, path.name),
            )
        )
    if run_requests:
        for name in problems:
            del current[name]
        return RequestScan(run_requests, [], None, json.dumps(current, sort_keys=True))
    skipped = [f"Skipping request file {name}: {problem}" for name, problem in problems.items()]
    skip_reason = "\n".join(skipped) or f"No new or changed request file in {folder}"
    return RequestScan([], skipped, skip_reason, json.dumps(current, sort_keys=True))


def request_runs(context: dg.SensorEvaluationContext, folder: Path) -> dg.SensorResult:
    """What a tick of the request sensor returns: the runs it requests or, with none, its skip
    reason (the files it skipped, each also logged as a warning)."""
    scan = scan_requests(folder, context.cursor)
    for line in scan.skipped:
        context.log.warning(line)
    return dg.SensorResult(
        run_requests=scan.run_requests, skip_reason=scan.skip_reason, cursor=scan.cursor
    )


def _read_object(path: Path) -> dict:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError("not UTF-8 text") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from error
    fields = list(AdhocRequestConfig.model_fields)
    if not isinstance(content, dict):
        raise ValueError(f"expected a JSON object with {', '.join(fields)}")
    missing = [field for field in fields if field not in content]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return content


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'request'}: {e['msg']}"
            for e in error.errors()
        )
    return str(error)
