"""Per-tenant counters: requests by status class, 429s, rows written, keys ignored, and per-second traffic.

Unlike the journal these never evict, so totals stay exact over a long run; the per-second
series keeps the last ``WINDOW`` seconds of the emulator clock for the inspector's chart.
The row service reports every row write (sync, async, events) through ``record_write``. What one SFMC
call wrote (for its journal entry: ignored keys, broken rules) is a ``WriteCapture`` the request chain
creates and the call's view hands to the row writer, which adds each write's outcome to it.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock

WINDOW = 600  # seconds of per-second traffic kept per tenant
# Counter keys come from closed sets, so a client inventing methods or host names cannot grow them
# without bound (the journal still shows what was sent).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
UNKNOWN_HOST = "(unknown tenant)"
_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}  # status // 100 -> its counter


@dataclass
class WriteCapture:
    """The row writes of one SFMC call: rows saved, keys ignored (each once), problems of refused rows."""

    rows_written: int = 0
    keys_ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, *, saved: int, ignored_keys: list[str], problems: list[str]) -> None:
        self.rows_written += saved
        if ignored_keys:
            self.keys_ignored.extend(k for k in ignored_keys if k not in self.keys_ignored)
        if problems:
            self.problems.extend(problems)


@dataclass
class TenantCounters:
    requests: int = 0
    by_class: dict[str, int] = field(default_factory=lambda: {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0})
    throttled: int = 0  # every 429, whether from the rate limit or a fault
    dropped: int = 0
    faults: int = 0
    rows_written: int = 0
    rows_failed: int = 0
    keys_ignored: int = 0
    per_second: dict[int, list[int]] = field(default_factory=dict)  # second -> [accepted, throttled]


class Stats:
    def __init__(self, clock: Clock):
        self.clock = clock
        self._tenants: dict[str | None, TenantCounters] = defaultdict(TenantCounters)
        self._routes: dict[tuple[Any, ...], int] = defaultdict(int)  # (tenant, route, method, status) -> count
        self._hosts: dict[tuple[Any, ...], int] = defaultdict(int)  # (tenant, SFMC host name or "") -> count
        self._lock = threading.Lock()

    def record_request(
        self,
        tenant: str | None,
        route: str,
        method: str,
        status: int | None,
        *,
        fault: bool = False,
        host: str | None = None,
    ) -> None:
        """Count one answered call; ``host`` is the SFMC host name it came in on ("" when reached by
        address, None when not counted). A host name that named no tenant is counted under one label:
        any subdomain can be made up."""
        second = math.floor(self.clock.now())
        if method not in METHODS:
            method = OTHER_METHOD
        if tenant is None and host:
            host = UNKNOWN_HOST
        with self._lock:
            counters = self._tenants[tenant]
            counters.requests += 1
            if status is None:
                counters.dropped += 1
            else:
                name = _CLASSES.get(status // 100) or f"{status // 100}xx"
                by_class = counters.by_class
                by_class[name] = by_class.get(name, 0) + 1
            counters.faults += fault
            bucket = counters.per_second.get(second)
            if bucket is None:
                bucket = counters.per_second[second] = [0, 0]
                if len(counters.per_second) > WINDOW:
                    for old in [s for s in counters.per_second if s <= second - WINDOW]:
                        del counters.per_second[old]
            if status == 429:
                counters.throttled += 1
                bucket[1] += 1
            else:
                bucket[0] += 1
            self._routes[(tenant, route, method, status)] += 1
            if host is not None:
                self._hosts[(tenant, host)] += 1

    def hosts(self) -> list[tuple[tuple[Any, ...], int]]:
        with self._lock:
            return list(self._hosts.items())

    # -- row writes -------------------------------------------------------------------------------

    def record_write(self, tenant: str, *, saved: int, failed: int, ignored_keys: list[str]) -> None:
        with self._lock:
            counters = self._tenants[tenant]
            counters.rows_written += saved
            counters.rows_failed += failed
            counters.keys_ignored += len(ignored_keys)

    # -- readers --------------------------------------------------------------------------------

    def tenant(self, tenant: str | None) -> dict[str, Any]:
        with self._lock:
            c = self._tenants.get(tenant) or TenantCounters()
            return {
                "requests": c.requests,
                **c.by_class,
                "429": c.throttled,
                "dropped": c.dropped,
                "faults": c.faults,
                "rows_written": c.rows_written,
                "rows_failed": c.rows_failed,
                "keys_ignored": c.keys_ignored,
            }

    def traffic(self, tenant: str | None, seconds: int) -> list[dict[str, Any]]:
        """One point per second of the emulator clock, oldest first, ending at the current second."""
        now = math.floor(self.clock.now())
        with self._lock:
            series = dict(self._tenants[tenant].per_second) if tenant in self._tenants else {}
        return traffic_points(series, now, seconds)

    def routes(self) -> list[tuple[tuple[Any, ...], int]]:
        with self._lock:
            return list(self._routes.items())

    def totals(self) -> dict[str | None, TenantCounters]:
        with self._lock:
            return {
                t: TenantCounters(
                    c.requests,
                    dict(c.by_class),
                    c.throttled,
                    c.dropped,
                    c.faults,
                    c.rows_written,
                    c.rows_failed,
                    c.keys_ignored,
                )
                for t, c in self._tenants.items()
            }

    def forget(self, tenant: str | None = None, *, everything: bool = False) -> None:
        with self._lock:
            if everything:
                self._tenants.clear()
                self._routes.clear()
                self._hosts.clear()
                return
            self._tenants.pop(tenant, None)
            for key in [k for k in self._routes if k[0] == tenant]:
                del self._routes[key]
            for key in [k for k in self._hosts if k[0] == tenant]:
                del self._hosts[key]


def traffic_points(series: Mapping[int, Sequence[int]], now: int, seconds: int) -> list[dict[str, Any]]:
    """One point per second ending at ``now``, oldest first, from (accepted, throttled) per second."""
    points: list[dict[str, Any]] = []
    for second in range(now - seconds + 1, now + 1):
        accepted, throttled = series.get(second, (0, 0))
        points.append({"t": second, "accepted": accepted, "throttled": throttled})
    return points
