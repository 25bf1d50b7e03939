"""Async Data Extension jobs: the rules of ``/data/v1/async`` and ``/hub/v1/dataeventsasync``, no I/O.

A job is a plain dict (it is stored as JSON). Its ``state`` moves
``Queued`` (status absent: not picked up yet) → ``Pending`` (picked up, waiting for the worker)
→ ``Executing`` → ``Complete`` or ``Error``. Row problems fail the row, never the job; a job ends in
``Error`` only when it cannot run at all (the async API is off for the account (BAT-3), its Data
Extension was deleted). Results keep only the failed rows (index → problems): a 32,000-row job that
went well stores nothing per row.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Literal, TypedDict, cast

from .data_extensions import DataExtension
from .rows import FlatRows, RowInput, RowOutcome
from .rowsets import utc_text

MAX_ITEMS = 32_000  # SFMC's hard limit per async request
QUEUED, PENDING, EXECUTING, COMPLETE, ERROR = "Queued", "Pending", "Executing", "Complete", "Error"
UNFINISHED = (QUEUED, PENDING, EXECUTING)
FLAT, KEYED = "flat", "keyed"  # /data/v1/async items vs. /hub rowsets of {keys, values}
NOT_AN_OBJECT = "Each item must be an object of column names and values."
ASYNC_DISABLED = (
    "The asynchronous API is not enabled for this account: the request was accepted but no row "
    "was processed (BAT-3). Ask Salesforce support to enable it."
)
DEFAULT_RESULTS_PAGE_SIZE = 50  # SFMC pages results by 50 unless $pageSize says otherwise


class AsyncJob(TypedDict):
    """One async job as stored (JSON): times are epoch seconds, ``failures`` maps item index -> problems."""

    id: str
    tenant_id: str
    data_extension_id: str
    data_extension: str  # its key
    operation: Literal["insert", "upsert"]
    shape: str  # FLAT or KEYED
    source: str
    state: str  # QUEUED, PENDING, EXECUTING, COMPLETE or ERROR
    called_at: float
    due_at: float
    picked_up_at: float | None
    started_at: float | None
    completed_at: float | None
    item_count: int
    saved_count: int
    failed_count: int
    ignored_keys: list[str]
    reason: str | None
    failures: dict[str, list[str]]


def new_job(
    tenant_id: str,
    de: DataExtension,
    *,
    insert_only: bool,
    shape: str,
    source: str,
    now: float,
    pickup_delay: float,
    count: int,
) -> AsyncJob:
    return {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "data_extension_id": de.id,
        "data_extension": de.key,
        "operation": "insert" if insert_only else "upsert",
        "shape": shape,
        "source": source,
        "state": QUEUED,
        "called_at": now,
        "due_at": now + pickup_delay,
        "picked_up_at": None,
        "started_at": None,
        "completed_at": None,
        "item_count": count,
        "saved_count": 0,
        "failed_count": 0,
        "ignored_keys": [],
        "reason": None,
        "failures": {},
    }


def row_inputs(
    de: DataExtension, items: list[object], shape: str
) -> tuple[Sequence[RowInput], list[int], dict[int, list[str]]]:
    """Items as validator input; flat rows go in whole as values, where the validator finds the
    primary-key columns by name (so nothing is split here only to be merged again).

    Returns the rows, the item index of each row, and the items refused for their shape alone.
    """
    if shape != KEYED and set(map(type, items)) == {dict}:  # the usual flat job: no row refused
        return FlatRows(cast(list[dict[str, object]], items)), list(range(len(items))), {}
    rows: list[RowInput] = []
    positions: list[int] = []
    refused: dict[int, list[str]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            refused[index] = [NOT_AN_OBJECT]
            continue
        if shape == KEYED:
            rows.append(RowInput(item.get("keys") or {}, item.get("values") or {}, needs_value=True))
        else:
            rows.append(RowInput({}, item))
        positions.append(index)
    return rows, positions, refused


def fail_every_row(job: AsyncJob, message: str, now: float) -> AsyncJob:
    """The job when an injected fault fails all its rows (nothing was written)."""
    failures = {str(i): [message] for i in range(job["item_count"])}
    return {
        **job,
        "state": COMPLETE,
        "completed_at": now,
        "failures": failures,
        "failed_count": len(failures),
        "saved_count": 0,
    }


def finish(
    job: AsyncJob,
    outcomes: list[RowOutcome],
    positions: list[int],
    refused: dict[int, list[str]],
    ignored_keys: list[str],
    now: float,
) -> AsyncJob:
    """The job after its rows were planned and written (``outcomes``: at least those of the failed rows)."""
    failures = {str(i): problems for i, problems in refused.items()}
    for outcome in outcomes:
        if outcome.problems:
            failures[str(positions[outcome.index])] = list(outcome.problems)
    return {
        **job,
        "state": COMPLETE,
        "completed_at": now,
        "failures": failures,
        "ignored_keys": ignored_keys,
        "failed_count": len(failures),
        "saved_count": job["item_count"] - len(failures),
    }


def fail(job: AsyncJob, reason: str, now: float) -> AsyncJob:
    """The job when it could not run at all: every row is unprocessed."""
    return {
        **job,
        "state": ERROR,
        "completed_at": now,
        "reason": reason,
        "failed_count": job["item_count"],
        "saved_count": 0,
        "picked_up_at": job["picked_up_at"] or now,
    }


def _when(at: float | None) -> str | None:
    """SFMC's async timestamps carry no UTC offset (``2024-07-11T22:19:02.04``)."""
    return None if at is None else utc_text(at)


def status_view(job: AsyncJob) -> dict[str, object]:
    """``GET /data/v1/async/{id}/status``; ``status`` is absent until the job is picked up."""
    out: dict[str, object] = {}
    if job["state"] != QUEUED:
        has_errors = job["state"] == ERROR or job["failed_count"] > 0
        status = {
            "callDateTime": _when(job["called_at"]),
            "completionDateTime": _when(job["completed_at"]),
            "hasErrors": has_errors if job["state"] in (COMPLETE, ERROR) else False,
            "pickupDateTime": _when(job["picked_up_at"]),
            "requestStatus": job["state"],
            "resultStatus": ("Has Errors" if has_errors else "OK") if job["state"] in (COMPLETE, ERROR) else None,
            "requestId": job["id"],
        }
        out["status"] = {k: v for k, v in status.items() if v is not None}  # nothing to say yet: left out
    out["requestId"] = str(uuid.uuid4())  # SFMC gives each status call its own id
    out["resultMessages"] = [] if job["reason"] is None else [_message(job["reason"])]
    return out


def _message(text: str) -> dict[str, str]:
    return {
        "resultType": "Execution",
        "resultClass": "Error",
        "resultCode": "AsyncApiNotEnabled" if "not enabled" in text else "AsyncRequestFailed",
        "message": text,
    }


MISSING_KEYS = "Cannot locate the existing record. Required keys are missing."
_COLUMN = re.compile(r"\[([^\]]+)\]")


def _error(problem: str) -> dict[str, str | int]:
    """One ``errors`` entry: ``{errorMessage, name, errorCode}`` (segment-async)."""
    column = _COLUMN.search(problem)
    name = column.group(1).lower() if column else ""
    if "primary key column" in problem:
        return {"errorMessage": f"Column [{name}] does not allow null value.", "name": name, "errorCode": 70001}
    return {"errorMessage": problem, "name": name, "errorCode": 70001 if "cannot be null" in problem else 70000}


def _item(problems: list[str] | None, insert_only: bool) -> dict[str, object]:
    """One result item, as SFMC's recorded answers give it (docs/fidelity.md, ASYNC-2..ASYNC-4)."""
    if not problems:
        return {
            "message": "Inserted DataExtensionObject" if insert_only else "Upserted DataExtensionObject",
            "status": "OK",
        }
    if any("PRIMARY KEY constraint" in p for p in problems):
        return {"errorCode": "UnexpectedError", "message": problems[0], "status": "Error"}
    errors = [_error(p) for p in problems]
    missing_key = any("primary key column" in p for p in problems)
    return {
        "errorCode": 2,
        "errors": errors,
        "message": MISSING_KEYS if missing_key else problems[0],
        "status": "Error",
    }


def results_view(job: AsyncJob, page: int | None, page_size: int | None) -> dict[str, object]:
    """``GET /data/v1/async/{id}/results``: one item per submitted row, in order, once the job finished;
    paged like SFMC's (default ``$pageSize`` 50, sf-async-results)."""
    finished = job["state"] in (COMPLETE, ERROR)
    count = job["item_count"] if finished else 0
    page = page or 1
    page_size = page_size or DEFAULT_RESULTS_PAGE_SIZE
    start, stop = (page - 1) * page_size, min(page * page_size, count)
    failures = job["failures"]
    insert_only = job["operation"] == "insert"
    items: list[dict[str, object]]
    if job["state"] == ERROR:
        items = [{"errorCode": 2, "message": job["reason"], "status": "Error"} for _ in range(start, stop)]
    else:
        items = [_item(failures.get(str(i)), insert_only) for i in range(start, stop)]
    return {
        "page": page,
        "pageSize": page_size,
        "count": count,
        "items": items,
        "requestId": job["id"],
        "resultMessages": [] if job["reason"] is None else [_message(job["reason"])],
    }


def admin_view(job: AsyncJob) -> dict[str, object]:
    """A job for the control plane: everything kept, and the SFMC-facing status beside it."""
    return {**job, "requestStatus": None if job["state"] == QUEUED else job["state"]}
