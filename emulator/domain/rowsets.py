"""Row reads (``/data/v1/customobjectdata``): read cursors, page bodies and SFMC's read formats. No I/O.

A read by key or id opens a cursor: a fresh GUID (``requestToken``) tied to the tenant, the Data
Extension, the filter and the page size. Its links are strings pointing at
``/v1/customobjectdata/token/{GUID}/rowset?$page=N`` (relative to ``/data``), as SFMC's recorded
answers show (docs/fidelity.md, ROW-1..ROW-4). The token carries nothing of the caller's
credentials, and another tenant presenting it gets "not found".

Values read back the way SFMC renders them (ROW-5): dates as ``M/d/yyyy h:mm:ss AM``, booleans as
``True``/``False``, empty values as ``""``.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .data_extensions import DataExtension

DEFAULT_PAGE_SIZE = 2500  # SFMC's default and largest rowset page
CURSOR_LIFETIME = 20 * 60  # seconds a requestToken stays usable (inferred: the recorded expiry is 20 min out)
MAX_CURSORS = 10_000  # oldest cursors are forgotten past this many


@dataclass(frozen=True)
class Cursor:
    token: str
    tenant_id: str
    de_id: str
    filter_text: str | None
    page_size: int
    expires_at: float


class Cursors:
    """The stored read cursors of one emulator, bounded; a token answers only its own tenant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()

    def open(self, tenant_id: str, de_id: str, filter_text: str | None, page_size: int, now: float) -> Cursor:
        cursor = Cursor(str(uuid.uuid4()), tenant_id, de_id, filter_text, page_size, now + CURSOR_LIFETIME)
        with self._lock:
            self._cursors[cursor.token] = cursor
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return cursor

    def find(self, tenant_id: str, token: str, now: float) -> Cursor | None:
        with self._lock:
            cursor = self._cursors.get(token.lower())
            if cursor is not None and cursor.expires_at <= now:
                del self._cursors[cursor.token]
                cursor = None
        return cursor if cursor is not None and cursor.tenant_id == tenant_id else None

    def forget(self, tenant_id: str | None = None) -> None:
        with self._lock:
            if tenant_id is None:
                self._cursors.clear()
            else:
                for token in [t for t, c in self._cursors.items() if c.tenant_id == tenant_id]:
                    del self._cursors[token]


def utc_text(at: float) -> str:
    """SFMC's timestamp style in these APIs: no UTC offset, fraction without trailing zeros
    (``2023-01-26T13:54:59.883``, ``2024-07-11T22:19:02.04``)."""
    text = datetime.fromtimestamp(at, UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    return text.rstrip("0").rstrip(".")


def sfmc_date(text: str) -> str:
    """An ISO-8601 stored date as SFMC reads it back: ``6/23/2024 12:00:00 AM`` (the wall-clock time
    as written; inferred: no time-zone conversion)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:{moment.second:02d} {half}"


def read_value(column_type: str, value: object, sfmc_formats: bool) -> object:
    if value is None:
        return ""
    if sfmc_formats and column_type == "Date" and isinstance(value, str):
        return sfmc_date(value)
    return value


def row_item(de: DataExtension, row: dict[str, Any], sfmc_formats: bool) -> dict[str, Any]:
    """A row as the rowset read returns it: lower-cased names, keys apart from values."""
    keys: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for column in de.fields:
        value = read_value(column.type, row.get(column.name), sfmc_formats)
        (keys if column.is_primary_key else values)[column.name.lower()] = value
    return {"keys": keys, "values": values}


def link(token: str, page: int) -> str:
    return f"/v1/customobjectdata/token/{token}/rowset?$page={page}"


def page_body(
    de: DataExtension, cursor: Cursor, page: int, rows: list[dict[str, Any]], total: int, sfmc_formats: bool
) -> dict[str, Any]:
    links = {"self": link(cursor.token, page)}
    if page > 1:
        links["prev"] = link(cursor.token, page - 1)
    if page * cursor.page_size < total:
        links["next"] = link(cursor.token, page + 1)
    body = {
        "links": links,
        "requestToken": cursor.token,
        "tokenExpireDateUtc": utc_text(cursor.expires_at),
        "customObjectId": de.id,
        "customObjectKey": de.key,
        "pageSize": cursor.page_size,
        "page": page,
        "count": total,
        "top": 0,
    }
    if rows:
        body["items"] = [row_item(de, r, sfmc_formats) for r in rows]
    return body
