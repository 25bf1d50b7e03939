"""Connector delivery throughput against a live emulator at SFMC's 20 requests/second.

Three modes over one emulator (a real ``sfmc-emulator serve`` process):

* unbatched: one row per request (``sync_group_size: 1``): ceiling = limit x 1 row;
* sync-grouped: 50-row rowsets: ceiling = limit x 50 rows;
* async-batched (BAT-1): 32,000-item async jobs: a backfill of N users, timed end to end
  (queue into the outbox, plan, submit, poll, map results back).

Prints rows/s delivered, the fraction of the ceiling reached, and the 429s seen (all of them,
and those after the first second of warm-up).

    python -m loadtests.bench_connector [--unbatched 200] [--grouped 20000] [--backfill 1000000]
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import click
import requests

from connector.delivery.destination import Destination
from connector.settings import load_settings

from .common import FIELDS, start_emulator


def make_tenant(url: str, rate: float) -> dict:
    body = {
        "settings": {"rate_limit": rate, "burst": rate, "async_pickup_delay": 0},
        "data_extensions": [{"key": "identify", "name": "Identify", "fields": FIELDS}],
    }
    response = requests.post(f"{url}/_emulator/tenants", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def events(n: int, prefix: str):
    for i in range(n):
        yield {
            "type": "identify",
            "userId": f"{prefix}-{i}",
            "messageId": f"{prefix}-{i}",
            "traits": {
                "email": f"user{i}@example.com",
                "firstName": "Ann",
                "lastName": "Lee",
                "plan": "pro",
                "createdAt": "2020-05-30T13:30:00+00:00",
                "age": 30 + i % 50,
                "city": "Paris",
                "country": "FR",
                "optedIn": i % 2 == 0,
            },
        }


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of a process so far: this one, or another by pid (Linux /proc)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_mode(
    url: str, workdir: Path, name: str, n: int, rate: float, emulator_pid: int | None = None, **settings
) -> dict:
    tenant = make_tenant(url, rate)
    package = tenant["packages"][0]
    dest = Destination(
        load_settings(
            env={},
            overrides={
                "client_id": package["client_id"],
                "client_secret": package["client_secret"],
                "subdomain": tenant["subdomain"],
                "auth_base_url": url,
                "identify_de_key": "identify",
                "do_not_create_contacts": True,
                "rate_limit": rate,
                "outbox_path": str(workdir / f"{name}.sqlite3"),
                **settings,
            },
        )
    )
    cpu_before = cpu_seconds(), cpu_seconds(emulator_pid) if emulator_pid else 0.0
    started = time.monotonic()
    dest.accept(events(n, name))
    queued = time.monotonic()
    first_429_cutoff = started + 1.0
    summary = dest.deliver_pending()
    elapsed = time.monotonic() - started
    cpu_after = cpu_seconds(), cpu_seconds(emulator_pid) if emulator_pid else 0.0
    stats = dest.client.stats
    rows = requests.get(
        f"{url}/_emulator/tenants/{tenant['id']}/data-extensions/identify/rows", params={"page_size": 1}, timeout=60
    ).json()["count"]
    late_429 = stats.throttled_after(first_429_cutoff)
    return {
        "mode": name,
        "events": n,
        "rows_in_emulator": rows,
        "delivered": summary.delivered,
        "rejected": dict(summary.rejected),
        "stopped_because": summary.stopped_because,
        "pending": summary.pending,
        "seconds": round(elapsed, 2),
        "queue_seconds": round(queued - started, 2),
        "rows_per_s": round(summary.delivered / elapsed, 1),
        # CPU seconds of each side: what holds up on a shared machine, where the wall time follows its load
        "connector_cpu_s": round(cpu_after[0] - cpu_before[0], 2),
        "emulator_cpu_s": round(cpu_after[1] - cpu_before[1], 2) if emulator_pid else None,
        "requests": stats.requests,
        "http_429": stats.throttled,
        "http_429_after_warmup": late_429,
        "retries": stats.retries,
    }


@click.command()
@click.option("--rate", default=20.0, show_default=True, help="The tenant's limit (requests/second).")
@click.option("--unbatched", default=200, show_default=True, help="Events for the one-row-per-request run.")
@click.option("--grouped", default=20000, show_default=True, help="Events for the 50-row rowset run.")
@click.option("--backfill", default=1_000_000, show_default=True, help="Users for the async backfill run.")
@click.option("--json-out", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
def main(rate, unbatched, grouped, backfill, json_out):
    """Connector delivery throughput against a live emulator (figures and ratios to the ceiling)."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        emulator = start_emulator(workdir)
        url, pid = emulator.url, emulator.proc.pid
        try:
            results = []
            if unbatched:
                results.append(run_mode(url, workdir, "unbatched", unbatched, rate, pid, sync_group_size=1))
                results[-1]["ceiling_rows_per_s"] = rate
            if grouped:
                results.append(run_mode(url, workdir, "sync-grouped", grouped, rate, pid, sync_group_size=50))
                results[-1]["ceiling_rows_per_s"] = rate * 50
            if backfill:
                results.append(
                    run_mode(
                        url,
                        workdir,
                        "async-batched",
                        backfill,
                        rate,
                        pid,
                        batching={"enabled": True, "poll_interval": 0.25},
                    )
                )
        finally:
            emulator.stop()
    click.echo(f"emulator limit {rate:g} requests/s; client: connector.delivery (requests, keep-alive)")
    for r in results:
        ceiling = r.get("ceiling_rows_per_s")
        ratio = f"  {r['rows_per_s'] / ceiling:.0%} of the {ceiling:g} rows/s ceiling" if ceiling else ""
        click.echo(
            f"{r['mode']:<14} {r['delivered']:>9} rows in {r['seconds']:>7.2f} s = "
            f"{r['rows_per_s']:>9.1f} rows/s"
            f"{ratio}; {r['requests']} requests, {r['http_429']} x 429"
            + (f" ({r['http_429_after_warmup']} after warm-up)" if r["http_429_after_warmup"] is not None else "")
            + f", outbox queueing {r['queue_seconds']} s; CPU: connector {r['connector_cpu_s']} s, "
            f"emulator {r['emulator_cpu_s']} s"
        )
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
