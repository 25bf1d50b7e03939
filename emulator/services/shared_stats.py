"""Statistics counters on a store several processes share (PostgreSQL).

The same interface as ``domain.stats.Stats``. Each process counts its calls in memory, as on SQLite
(no database round trip per call), and adds what it counted to the database's totals every
``FLUSH`` seconds, in one statement (``value = value + delta``, so no process overwrites another's
counts). A read flushes the reading process's counts first and then answers from the database: the
totals over every process, exact for the calls the reading process answered and at most ``FLUSH``
seconds behind for the others'. A process killed with ``kill -9`` loses at most its last ``FLUSH``
seconds of counts (the journal, written per call, loses nothing).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import weakref
from collections import defaultdict
from typing import Any

from ..clock import Clock
from ..domain.stats import WINDOW, Stats, TenantCounters, traffic_points
from ..store.base import SharedStore

log = logging.getLogger("sfmc_emulator.stats")
FLUSH = 0.2  # seconds between additions of a process's counts to the shared totals
PRUNE = 10.0  # seconds between removals of per-second points older than WINDOW
UNKNOWN = ""  # the key of the unknown tenant (tenant ids are never empty)
COUNTERS = ("requests", "2xx", "3xx", "4xx", "5xx", "429", "dropped", "faults")
COUNTERS += ("rows_written", "rows_failed", "keys_ignored")


def _key(tenant: str | None) -> str:
    return UNKNOWN if tenant is None else tenant


def _tenant(key: str) -> str | None:
    return None if key == UNKNOWN else key


class SharedStats(Stats):
    def __init__(self, clock: Clock, store: SharedStore):
        super().__init__(clock)
        self.store = store
        self._unsent: dict[tuple[str, str, str], int] = {}  # counts a failed flush could not add
        self._flush_lock = threading.Lock()
        self._pruned = 0.0
        threading.Thread(target=_flusher, args=(weakref.ref(self),), name="sfmc-stats", daemon=True).start()

    # -- moving counts to the database --------------------------------------------------------

    def _take(self) -> dict[tuple[str, str, str], int]:
        """This process's counts since the last flush, as (tenant key, kind, name) -> delta."""
        with self._lock:
            tenants, routes, hosts = self._tenants, self._routes, self._hosts
            self._tenants, self._routes, self._hosts = defaultdict(TenantCounters), defaultdict(int), defaultdict(int)
        deltas: dict[tuple[str, str, str], int] = defaultdict(int)
        for tenant, c in tenants.items():
            key = _key(tenant)
            values = {"requests": c.requests, **c.by_class, "429": c.throttled, "dropped": c.dropped}
            values |= {"faults": c.faults, "rows_written": c.rows_written, "rows_failed": c.rows_failed}
            values["keys_ignored"] = c.keys_ignored
            for name, value in values.items():
                deltas[(key, "c", name)] += value
            for second, (accepted, throttled) in c.per_second.items():
                deltas[(key, "sa", str(second))] += accepted
                deltas[(key, "st", str(second))] += throttled
        for (tenant, route, method, status), count in routes.items():
            deltas[(_key(tenant), "r", json.dumps([route, method, status]))] += count
        for (tenant, host), count in hosts.items():
            deltas[(_key(tenant), "h", host)] += count
        return deltas

    def flush(self) -> None:
        """Add this process's counts to the shared totals (kept for the next try if the database fails)."""
        with self._flush_lock:
            deltas = self._take()
            for key, value in self._unsent.items():
                deltas[key] = deltas.get(key, 0) + value
            self._unsent = {}
            rows = sorted((*key, value) for key, value in deltas.items() if value)
            now = time.monotonic()
            prune = None
            if now - self._pruned >= PRUNE:
                self._pruned, prune = now, math.floor(self.clock.now()) - WINDOW
            if not rows and prune is None:
                return
            try:
                self.store.add_stats(rows, prune)
            except Exception:
                self._unsent = dict(deltas)
                raise

    # -- readers: the totals of every process ---------------------------------------------------

    def _rows(self, tenant_key: str | None, kinds: tuple[str, ...]) -> list[tuple[str, str, str, int]]:
        """(tenant key, kind, name, value) of one tenant (``tenant_key``) or all (None), after a flush."""
        self.flush()
        return self.store.stats_rows(tenant_key, kinds)

    def tenant(self, tenant: str | None) -> dict[str, Any]:
        found = {name: value for _key, _kind, name, value in self._rows(_key(tenant), ("c",))}
        return {name: found.get(name, 0) for name in COUNTERS}

    def traffic(self, tenant: str | None, seconds: int) -> list[dict[str, Any]]:
        now = math.floor(self.clock.now())
        series: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for _tenant_key, kind, name, value in self._rows(_key(tenant), ("sa", "st")):
            series[int(name)][kind == "st"] += value
        return traffic_points(series, now, seconds)

    def routes(self) -> list[tuple[tuple[Any, ...], int]]:
        return [((_tenant(key), *json.loads(name)), value) for key, _kind, name, value in self._rows(None, ("r",))]

    def hosts(self) -> list[tuple[tuple[Any, ...], int]]:
        return [((_tenant(key), name), value) for key, _kind, name, value in self._rows(None, ("h",))]

    def totals(self) -> dict[str | None, TenantCounters]:
        found: dict[str | None, dict[str, int]] = defaultdict(dict)
        for key, _kind, name, value in self._rows(None, ("c",)):
            found[_tenant(key)][name] = value
        out = {}
        for tenant, v in found.items():
            by_class = {c: v.get(c, 0) for c in ("2xx", "3xx", "4xx", "5xx")}
            out[tenant] = TenantCounters(
                v.get("requests", 0),
                by_class,
                v.get("429", 0),
                v.get("dropped", 0),
                v.get("faults", 0),
                v.get("rows_written", 0),
                v.get("rows_failed", 0),
                v.get("keys_ignored", 0),
            )
        return out

    def forget(self, tenant: str | None = None, *, everything: bool = False) -> None:
        """Drop a tenant's (or every) count here and in the database. Counts another process had not
        yet added when this ran are added afterwards (at most ``FLUSH`` seconds of them)."""
        super().forget(tenant, everything=everything)
        with self._flush_lock:
            if everything:
                self._unsent = {}
            else:
                self._unsent = {k: v for k, v in self._unsent.items() if k[0] != _key(tenant)}
            self.store.forget_stats(None if everything else _key(tenant))


def _flusher(ref: weakref.ref) -> None:
    """Flush every FLUSH seconds while the emulator lives and its store is open."""
    while True:
        time.sleep(FLUSH)
        stats = ref()
        if stats is None or stats.store.closed:
            return
        try:
            stats.flush()
        except Exception:  # the database is away: the counts wait for the next try
            if stats.store.closed:
                return
            log.warning("could not add statistics to the database; will retry", exc_info=True)
        del stats
