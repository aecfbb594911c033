"""Ad hoc report requests: their config, the folder they are dropped into, and how the sensor
turns new or changed request files into run requests."""

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import ConfigDict, ValidationError, field_validator, model_validator

from etl_tutorial.sources import DATA_DIR

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What "Materialize all" in the UI reports when no request is given: the shipped sample.
SAMPLE_REQUEST = json.loads((DATA_DIR / "sample_request" / "request.json").read_text())


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


class RequestFolder(dg.ConfigurableResource):
    """The folder the ad hoc request sensor watches for *.json files."""

    path: str


@dataclass
class RequestScan:
    run_requests: list[dg.RunRequest]
    problems: dict[str, str]  # file name -> what is wrong with it
    cursor: str


def scan_requests(folder: Path, cursor: str | None) -> RequestScan:
    """One run request per request file that is new or changed since `cursor`.

    The cursor maps file names to modification times. A file that cannot be used is reported
    in `problems` and remembered like the others, so it is reported once, and again only
    after it changes.
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
                tags={"adhoc_request_file": path.name},
            )
        )
    return RequestScan(run_requests, problems, json.dumps(current, sort_keys=True))


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
