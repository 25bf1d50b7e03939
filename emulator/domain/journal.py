"""The request journal: every SFMC call the emulator answered, queryable and bounded.

Each tenant (and the unknown tenant ``None``, for calls that failed authentication) has a ring
buffer of ``size`` entries; the oldest entry is evicted when it is full and evictions are
counted. All tenants together also stay under ``max_bytes`` (bodies, headers, path and query as
recorded; the oldest entries of any tenant go first), and each header value is cut at
``HEADER_LIMIT``, so memory stays bounded however many tenants a long CI run creates. Patterns select entries by tenant,
method, path (glob or substring; never a regular expression, which could take seconds of CPU while
the journal's lock holds every SFMC call), status (``429`` or a class such as ``4xx``), time and body text;
``count`` answers WireMock-style verifications.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, NotRequired, TypedDict

from ..clock import Clock


class _Any(Enum):
    ANY = "any"


ANY: Final = _Any.ANY  # a pattern field that was not given: every tenant
TenantSelector = str | None | Literal[_Any.ANY]  # a tenant id, None (unauthenticated calls) or ANY
BODY_LIMIT = 16 * 1024
HEADER_LIMIT = 1024  # bytes of one header value kept
MAX_BYTES = 256 * 1024 * 1024  # the default bound on all entries of all tenants together


class PatternError(ValueError):
    pass


class JournalEntry(TypedDict):
    """One answered SFMC call, as the request chain records it."""

    id: NotRequired[int]  # set by Journal.record
    at: NotRequired[float]  # set by Journal.record unless given
    tenant: str | None
    mid: int | None
    method: str
    host: str
    path: str
    query: str
    route: str
    status: int | None  # None: the connection was dropped
    latency_ms: float
    request_headers: dict[str, str]
    request_body: str | None
    request_body_truncated: bool
    response_body: str | None
    response_body_truncated: bool
    keys_ignored: list[str]
    rules_broken: list[str]
    rows_written: int
    fault: str | None  # the id of the fault rule that answered
    soap: dict[str, object] | None  # operation and object types of a /Service.asmx call


@dataclass(frozen=True)
class Pattern:
    tenant: TenantSelector = ANY
    method: str | None = None
    path: str | None = None
    path_contains: str | None = None
    status: int | None = None
    status_class: int | None = None  # 4 for "4xx"
    since: float | None = None
    since_id: int | None = None
    body_contains: str | None = None

    def matches(self, entry: JournalEntry) -> bool:
        if self.tenant is not ANY and entry["tenant"] != self.tenant:
            return False
        if self.method and entry["method"] != self.method:
            return False
        if self.path and not fnmatch.fnmatchcase(entry["path"], self.path):
            return False
        if self.path_contains and self.path_contains not in entry["path"]:
            return False
        if self.status is not None and entry["status"] != self.status:
            return False
        if self.status_class is not None and (entry["status"] or 0) // 100 != self.status_class:
            return False
        if self.since is not None and entry["at"] < self.since:
            return False
        if self.since_id is not None and entry["id"] <= self.since_id:
            return False
        return not (self.body_contains and self.body_contains not in (entry["request_body"] or ""))


def _number(raw: object, name: str, kind: type[int] | type[float] = float) -> float:
    try:
        if isinstance(raw, bool) or len(str(raw)) > 40:  # bounded before conversion
            raise ValueError(raw)
        if not isinstance(raw, int | float | str):  # a list or an object: no number
            raise TypeError(raw)
        value = kind(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    except (TypeError, ValueError, OverflowError):
        raise PatternError(f"'{name}' must be a finite number, got {str(raw)[:40]!r}") from None


def parse_pattern(raw: object) -> Pattern:
    """A pattern from JSON (``POST /journal/count``) or query arguments; ``tenant: null`` means unauthenticated."""
    if not isinstance(raw, dict):
        raise PatternError("a journal pattern must be a JSON object")
    if raw.get("path_regex"):
        raise PatternError(
            "'path_regex' is not supported (a regular expression can run for seconds); "
            "use 'path' (a glob such as /hub/*) or 'path_contains' (a substring)"
        )
    unknown = set(raw) - {
        "tenant",
        "method",
        "path",
        "path_regex",
        "path_contains",
        "status",
        "since",
        "since_id",
        "body_contains",
    }
    if unknown:
        raise PatternError(f"unknown pattern field(s): {', '.join(sorted(unknown))}")
    tenant: TenantSelector = ANY
    if "tenant" in raw:
        tenant = None if raw["tenant"] in (None, "null") else str(raw["tenant"])
    status, status_class = None, None
    given_status = raw.get("status")
    if given_status not in (None, ""):
        text = str(given_status).lower()
        if re.fullmatch(r"[1-5]xx", text):
            status_class = int(text[0])
        else:
            status = int(_number(given_status, "status", int))
    return Pattern(
        tenant=tenant,
        method=str(raw["method"]).upper() if raw.get("method") else None,
        path=str(raw["path"]) if raw.get("path") else None,
        path_contains=str(raw["path_contains"]) if raw.get("path_contains") else None,
        status=status,
        status_class=status_class,
        since=_number(raw["since"], "since") if raw.get("since") not in (None, "") else None,
        since_id=int(_number(raw["since_id"], "since_id", int)) if raw.get("since_id") not in (None, "") else None,
        body_contains=str(raw["body_contains"]) if raw.get("body_contains") else None,
    )


def cap(data: bytes | None, limit: int = BODY_LIMIT) -> tuple[str | None, bool]:
    """A body as text, cut at ``limit`` bytes; and whether it was cut."""
    if not data:
        return None, False
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


def cap_headers(items: Iterable[tuple[str, str]], limit: int = HEADER_LIMIT) -> dict[str, str]:
    """Header values as recorded: each cut at ``limit`` characters, saying how long it was."""
    out: dict[str, str] = {}
    for name, value in items:
        out[name] = value if len(value) <= limit else f"{value[:limit]}… ({len(value)} characters)"
    return out


def entry_bytes(entry: JournalEntry) -> int:
    """What an entry holds, roughly: the text it keeps plus what Python spends on its dict and strings
    (about 3 KB, measured with loadtests.journal_memory)."""
    text = (
        len(entry.get("path") or "")
        + len(entry.get("query") or "")
        + len(entry.get("request_body") or "")
        + len(entry.get("response_body") or "")
        + sum(len(k) + len(v) for k, v in (entry.get("request_headers") or {}).items())
    )
    return 3072 + text


class Journal:
    def __init__(self, clock: Clock, size: int = 1000, max_bytes: int = MAX_BYTES):
        self.clock = clock
        self.size = max(1, int(size))
        self.max_bytes = max(1, int(max_bytes))
        self._rings: dict[str | None, deque[tuple[JournalEntry, int]]] = {}
        self._evicted: dict[str | None, int] = {}
        self._bytes = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> JournalEntry:
        """Store an entry (its ``id`` and ``at`` are set here); evicts the tenant's oldest when full,
        and the oldest of any tenant while all entries together are over ``max_bytes``."""
        size = entry_bytes(entry)
        with self._lock:
            entry["id"] = next(self._ids)
            entry.setdefault("at", self.clock.now())
            tenant = entry["tenant"]
            ring = self._rings.get(tenant)
            if ring is None:
                ring = self._rings[tenant] = deque()
            if len(ring) == self.size:
                self._evict(tenant)
            ring.append((entry, size))
            self._bytes += size
            while self._bytes > self.max_bytes and self._held() > 1:
                oldest = min((t for t, r in self._rings.items() if r), key=lambda t: self._rings[t][0][0]["id"])
                self._evict(oldest)
        return entry

    def _evict(self, tenant: str | None) -> None:
        _entry, size = self._rings[tenant].popleft()
        self._bytes -= size
        self._evicted[tenant] = self._evicted.get(tenant, 0) + 1

    def _held(self) -> int:
        return sum(len(r) for r in self._rings.values())

    def _entries(self, tenant: TenantSelector) -> list[JournalEntry]:
        rings: list[Iterable[tuple[JournalEntry, int]]]
        rings = [self._rings.get(tenant, ())] if tenant is not ANY else list(self._rings.values())
        return [entry for ring in rings for entry, _size in ring]

    def query(self, pattern: Pattern, limit: int = 100) -> list[JournalEntry]:
        """Matching entries, newest first."""
        with self._lock:
            found = [e for e in self._entries(pattern.tenant) if pattern.matches(e)]
        found.sort(key=lambda e: e["id"], reverse=True)
        return found[:limit]

    def count(self, pattern: Pattern) -> int:
        with self._lock:
            return sum(1 for e in self._entries(pattern.tenant) if pattern.matches(e))

    def get(self, entry_id: int) -> JournalEntry | None:
        with self._lock:
            return next((e for e in self._entries(ANY) if e["id"] == entry_id), None)

    def clear(self, tenant: TenantSelector = ANY) -> int:
        with self._lock:
            if tenant is ANY:
                removed = self._held()
                self._rings.clear()
                self._evicted.clear()
                self._bytes = 0
            else:
                ring = self._rings.pop(tenant, deque())
                removed = len(ring)
                self._bytes -= sum(size for _entry, size in ring)
                self._evicted.pop(tenant, None)
            return removed

    def evicted(self, tenant: TenantSelector = ANY) -> int:
        with self._lock:
            return sum(self._evicted.values()) if tenant is ANY else self._evicted.get(tenant, 0)

    def evictions(self) -> dict[str | None, int]:
        with self._lock:
            return dict(self._evicted)

    def held(self) -> int:
        with self._lock:
            return self._held()

    def held_bytes(self) -> int:
        with self._lock:
            return self._bytes
