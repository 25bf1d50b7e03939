"""The request journal on a store several processes share (PostgreSQL).

The same interface as ``domain.journal.Journal`` (which SQLite's single process keeps in memory,
with no database round trip per call), with the entries in the database: a journal read through any
process shows the calls every process answered. Each call is one round trip to a server-side
function that adds the entry and evicts, in the same transaction, the tenant's oldest entries past
``size`` and the oldest of any tenant while all together hold more than ``max_bytes`` (the same
measure of an entry, ``entry_bytes``); evictions are counted per tenant, as in memory. Entry ids
come from one database sequence, so they grow across processes.

Patterns are matched in SQL where a column holds the field (tenant, method, status, time, id) and in
Python for the rest (path globs, substrings of path and body), as the in-memory journal does.
"""

from __future__ import annotations

import json
from typing import Any

from ..clock import Clock
from ..domain.journal import ANY, MAX_BYTES, Pattern, RawEntry, entry_bytes
from ..store.base import SharedStore

UNKNOWN = ""  # the key of the unknown tenant (calls that failed authentication); tenant ids are never empty


def _key(tenant: object) -> str:
    return UNKNOWN if tenant is None else str(tenant)


def _tenant(key: str) -> str | None:
    return None if key == UNKNOWN else key


class SharedJournal:
    def __init__(self, clock: Clock, store: SharedStore, size: int = 1000, max_bytes: int = MAX_BYTES):
        self.clock = clock
        self.store = store
        self.size = max(1, int(size))
        self.max_bytes = max(1, int(max_bytes))

    def record(self, raw: RawEntry) -> int:
        """Store the call's entry, built now (one row per call; readers in any process see it)."""
        entry: dict[str, Any] = dict(raw.fields())
        entry["at"] = self.clock.now()
        entry["id"] = self.store.record_journal(
            _key(entry["tenant"]),
            entry["at"],
            entry.get("method"),
            entry.get("status"),
            entry_bytes(entry),
            json.dumps(entry, default=str),
            self.size,
            self.max_bytes,
        )
        return int(entry["id"])

    @staticmethod
    def _where(pattern: Pattern) -> tuple[dict[str, Any], bool]:
        """The pattern's fields the database can match, and whether others remain for Python."""
        where: dict[str, Any] = {}
        if pattern.tenant is not ANY:
            where["tenant_key"] = _key(pattern.tenant)
        for name in ("method", "status", "status_class", "since", "since_id"):
            value = getattr(pattern, name)
            if value is not None and value != "":
                where[name] = value
        return where, bool(pattern.path or pattern.path_contains or pattern.body_contains)

    @staticmethod
    def _entry(entry_id: int, body: str) -> dict[str, Any]:
        entry: dict[str, Any] = json.loads(body)
        entry["id"] = entry_id
        return entry

    def query(self, pattern: Pattern, limit: int = 100) -> list[dict[str, Any]]:
        """Matching entries, newest first."""
        where, rest = self._where(pattern)
        found = []
        for entry_id, body in self.store.journal_entries(where, None if rest else limit):
            entry = self._entry(entry_id, body)
            if pattern.matches(entry):
                found.append(entry)
                if len(found) >= limit:
                    break
        return found

    def count(self, pattern: Pattern) -> int:
        where, rest = self._where(pattern)
        if not rest:
            return self.store.count_journal(where)
        return sum(1 for i, b in self.store.journal_entries(where, None) if pattern.matches(self._entry(i, b)))

    def get(self, entry_id: int) -> dict[str, Any] | None:
        rows = self.store.journal_entries({"id": entry_id}, 1)
        return self._entry(*rows[0]) if rows else None

    def clear(self, tenant: object = ANY) -> int:
        return self.store.clear_journal(None if tenant is ANY else _key(tenant))

    def evicted(self, tenant: object = ANY) -> int:
        counts = self.store.journal_tenants()
        if tenant is ANY:
            return sum(evicted for _held, _size, evicted in counts.values())
        return counts.get(_key(tenant), (0, 0, 0))[2]

    def evictions(self) -> dict[str | None, int]:
        return {
            _tenant(key): evicted for key, (_held, _size, evicted) in self.store.journal_tenants().items() if evicted
        }

    def held(self) -> int:
        return sum(held for held, _size, _evicted in self.store.journal_tenants().values())

    def held_bytes(self) -> int:
        return sum(size for _held, size, _evicted in self.store.journal_tenants().values())
