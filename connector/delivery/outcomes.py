"""What an SFMC answer means for the events behind it: the one classification table of the connector.

Pure functions, no HTTP: the client asks ``call_is_retryable`` whether to try a call again at
once (with backoff); the destination asks ``row_result`` how one async result item ended and
``row_error_kind`` whether a refused row is worth sending again later (``TRANSIENT``) or refused
for good (``FINAL``). Public sources for each entry are listed in ``docs/connector.md``
("Transient and final errors").

| answer                                                   | kind       | what the connector does            |
|----------------------------------------------------------|------------|------------------------------------|
| HTTP 429, HTTP 5xx, a dropped connection                 | call retry | retried at once, Retry-After capped |
| HTTP 400 errorcode 10006 without ``additionalErrors``    | call retry | "Unable to save rows": retried      |
| row error "... deadlocked ... Rerun the transaction."    | TRANSIENT  | event pending again, with backoff   |
| row error naming a timeout ("timeout", "timed out")      | TRANSIENT  | event pending again, with backoff   |
| row error "Unable to save rows ..." with no detail       | TRANSIENT  | event pending again, with backoff   |
| any other row error (type, length, primary key, ...)     | FINAL      | event rejected with SFMC's message  |

A transient event is sent again up to ``transient_retries`` times (``retry_delay`` doubling, at
most ``max_backoff``), then rejected with ``transient_retries_exhausted`` and SFMC's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRANSIENT = "transient"
FINAL = "final"

_TRANSIENT_ROW_ERRORS = re.compile(
    r"rerun the transaction|deadlock|time ?out|timed out|unable to save rows for data extension",
    re.IGNORECASE,
)
# Row errors that say a value does not fit its column's type: the cached column types may be stale.
_TYPE_PROBLEMS = re.compile(r"\b(date|datetime|number|decimal|boolean|type)\b", re.IGNORECASE)
_SUCCESS_STATUSES = frozenset({"ok", "success", "succeeded"})


def call_is_retryable(status: int, body: object) -> bool:
    """A whole call worth repeating at once: 429, 5xx, or SFMC's detail-less 10006 "Unable to save rows"."""
    if status == 429 or status >= 500:
        return True
    if status == 400 and isinstance(body, Mapping):
        return body.get("errorcode") == 10006 and not body.get("additionalErrors")
    return False


def row_error_kind(message: str) -> str:
    """``TRANSIENT`` for a deadlock, a timeout or a save failure without detail; else ``FINAL``."""
    return TRANSIENT if _TRANSIENT_ROW_ERRORS.search(message or "") else FINAL


def is_type_problem(message: str) -> bool:
    """A refusal that may come from a column type the connector has cached wrongly."""
    return bool(_TYPE_PROBLEMS.search(message or ""))


@dataclass(frozen=True)
class RowResult:
    ok: bool
    message: str


def _error_texts(errors: object) -> list[str]:
    """Row errors as text: a list of strings (the emulator today) or of objects ``{errorMessage, name, errorCode}``."""
    if isinstance(errors, str):
        return [errors]
    texts: list[str] = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, Mapping):
            text = str(error.get("errorMessage") or error.get("message") or "")
            name = error.get("name")
            code = error.get("errorCode")
            prefix = f"{name}: " if name else ""
            suffix = f" (errorCode {code})" if code not in (None, "") else ""
            if text or prefix:
                texts.append(prefix + text + suffix)
        elif error not in (None, ""):
            texts.append(str(error))
    return texts


def row_result(item: Mapping[str, Any]) -> RowResult:
    """How one item of ``GET /data/v1/async/{id}/results`` ended, in either recorded shape.

    Success: ``status`` "OK" (the emulator, SFMC) with any message, e.g. "Upserted
    DataExtensionObject". Failure: any other status, or errors listed; the message joins the
    errors, whichever of the two shapes they come in.
    """
    errors = _error_texts(item.get("errors"))
    status = str(item.get("status") or "").casefold()
    message = str(item.get("message") or "")
    if status in _SUCCESS_STATUSES and not errors:
        return RowResult(True, message)
    if not status and not errors and message.casefold().startswith(("upserted", "inserted", "updated")):
        return RowResult(True, message)
    text = "; ".join(errors) if errors else message
    if message and errors and message not in text:
        text = f"{message}: {text}"
    return RowResult(False, text or f"row ended with status {item.get('status')!r}")
