"""Prometheus metrics for ``GET /_emulator/metrics``, read from the emulator's counters at scrape time.

Each app gets its own ``CollectorRegistry`` (tests run many apps in one process, and the default
global registry would mix them). Nothing is counted twice: the collector reads ``Emulator.stats``,
``Emulator.journal`` and ``Emulator.faults``, which the request chain and the services already keep.
The async queue depth comes from ``Emulator.async_queue_depth()``, the async rows service's count.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

PREFIX = "sfmc_emulator"


class EmulatorCollector:
    def __init__(self, emulator):
        self.emulator = emulator

    def collect(self):
        emulator = self.emulator
        requests = CounterMetricFamily(
            f"{PREFIX}_requests",
            "SFMC requests answered, by tenant, route and status (status 0: connection dropped by a fault)",
            labels=["tenant", "route", "method", "status"],
        )
        for (tenant, route, method, status), count in sorted(emulator.stats.routes(), key=lambda kv: str(kv[0])):
            requests.add_metric([tenant or "", route, method, str(status or 0)], count)
        yield requests
        by_host = CounterMetricFamily(
            f"{PREFIX}_requests_by_host",
            "SFMC requests by the host name they came in on (host empty: reached by address)",
            labels=["tenant", "host"],
        )
        for (tenant, host), count in sorted(emulator.stats.hosts(), key=lambda kv: str(kv[0])):
            by_host.add_metric([tenant or "", host], count)
        yield by_host

        totals = emulator.stats.totals()
        families = {
            "throttled": CounterMetricFamily(f"{PREFIX}_throttled", "429 answers, by tenant", labels=["tenant"]),
            "rows_written": CounterMetricFamily(
                f"{PREFIX}_rows_written", "Rows saved by any write path", labels=["tenant"]
            ),
            "rows_failed": CounterMetricFamily(
                f"{PREFIX}_rows_failed", "Rows rejected by validation", labels=["tenant"]
            ),
            "keys_ignored": CounterMetricFamily(
                f"{PREFIX}_keys_ignored", "Unknown columns SFMC would silently ignore", labels=["tenant"]
            ),
            "faults": CounterMetricFamily(
                f"{PREFIX}_faults_applied", "Requests answered by a fault rule", labels=["tenant"]
            ),
        }
        for tenant, counters in sorted(totals.items(), key=lambda kv: kv[0] or ""):
            for name, family in families.items():
                family.add_metric([tenant or ""], getattr(counters, name))
        yield from families.values()

        evicted = CounterMetricFamily(
            f"{PREFIX}_journal_evictions", "Journal entries evicted from a full ring buffer", labels=["tenant"]
        )
        for tenant, count in sorted(emulator.journal.evictions().items(), key=lambda kv: kv[0] or ""):
            evicted.add_metric([tenant or ""], count)
        yield evicted
        yield GaugeMetricFamily(f"{PREFIX}_journal_entries", "Journal entries held", value=emulator.journal.held())
        yield GaugeMetricFamily(
            f"{PREFIX}_journal_bytes",
            "What the journal's entries hold, all tenants",
            value=emulator.journal.held_bytes(),
        )
        yield GaugeMetricFamily(f"{PREFIX}_fault_rules", "Fault rules defined", value=len(emulator.faults.list()))
        yield GaugeMetricFamily(
            f"{PREFIX}_async_queue_depth", "Async jobs waiting to be processed", value=emulator.async_queue_depth()
        )
        group = emulator.rows.group
        yield CounterMetricFamily(
            f"{PREFIX}_row_commits",
            "Commits of sync row writes on a one-process store (writes that arrive while one commits share it)",
            value=group.commits,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_row_commit_writes", "Sync row writes stored by those commits", value=group.writes
        )


def registry_for(emulator) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EmulatorCollector(emulator))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
