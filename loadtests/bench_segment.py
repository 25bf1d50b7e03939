"""Batch paths compared at SFMC's 20 requests/second: Segment's published destination against the
bundled connector, one run, the same events, one emulator (reached by Segment's code through its
forward proxy, as ``conformance/segment_actions`` does).

* ``bundled async``: the bundled connector with batching on (async jobs, BAT-1);
* ``segment asyncDataExtension``: Segment's async action, batched as its mapping declares (28,000);
* ``segment dataExtension batched``: Segment's sync action with batching on (rowsets of its
  default batch size, 10).

For each: rows that landed in the emulator per second (start of the run to the last row written),
requests and 429s counted by the emulator for that tenant, and what the sender reported.

    python -m loadtests.bench_segment [--events 5000] [--rate 20]
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import click
import requests

from conformance.segment_actions import RUNNER, ensure_installed, proxy_serve_args, subscriptions

from .bench_connector import events, make_tenant, run_mode
from .common import start_emulator


def _stats(url: str, tenant_id: str) -> dict:
    return requests.get(f"{url}/_emulator/tenants/{tenant_id}/stats", timeout=30).json()


def _rows(url: str, tenant_id: str) -> int:
    response = requests.get(
        f"{url}/_emulator/tenants/{tenant_id}/data-extensions/identify/rows", params={"page_size": 1}, timeout=60
    )
    return response.json()["count"]


def run_segment(url: str, proxy_env: dict, workdir: Path, action: str, n: int, rate: float, wait: float) -> dict:
    """Segment's destination over ``n`` identifies into a fresh tenant; timed until the rows stop coming."""
    tenant = make_tenant(url, rate)
    package = tenant["packages"][0]
    batch = list(events(n, f"segment-{action}"))
    settings = {"identify_de_key": "identify", "do_not_create_contacts": True, "batching": {"enabled": True}}
    run = {
        "settings": {
            "subdomain": tenant["subdomain"],
            "account_id": str(tenant["business_units"][0]["mid"]),
            "client_id": package["client_id"],
            "client_secret": package["client_secret"],
        },
        "subscriptions": subscriptions(settings, batch[:50], action, "fields"),
    }
    settings_file = workdir / f"segment-{action}.json"
    settings_file.write_text(json.dumps(run), encoding="utf-8")
    stdin = "".join(json.dumps(event) + "\n" for event in batch)
    started = time.monotonic()
    done = subprocess.run(
        ["node", str(RUNNER)],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "SFMC_SETTINGS_FILE": str(settings_file), **proxy_env},
        timeout=3600,
    )
    sent = time.monotonic()
    if done.returncode != 0:
        raise click.ClickException(f"the Segment runner failed: {done.stderr[-1500:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    rows, last_change, last = 0, sent, -1
    while time.monotonic() - last_change < wait:  # async jobs keep landing rows after the sender is done
        rows = _rows(url, tenant["id"])
        if rows != last:
            last, last_change = rows, time.monotonic()
        if rows >= n:
            break
        time.sleep(0.2)
    finished = last_change if rows < n else time.monotonic()
    stats = _stats(url, tenant["id"])
    elapsed = finished - started
    return {
        "mode": f"segment {action}" + (" batched" if action == "dataExtension" else ""),
        "events": n,
        "rows_in_emulator": rows,
        "seconds": round(elapsed, 2),
        "sender_seconds": round(sent - started, 2),
        "rows_per_s": round(rows / elapsed, 1) if elapsed else 0.0,
        "requests": stats["requests"],
        "http_429": stats["429"],
        "sender_report": {k: report.get(k) for k in ("delivered", "rejected")},
    }


@click.command()
@click.option("--rate", default=20.0, show_default=True, help="Each tenant's limit (requests/second).")
@click.option("--events", "n", default=5000, show_default=True, help="Identify events per mode.")
@click.option("--wait", default=10.0, show_default=True, help="Seconds without a new row that end a mode.")
@click.option("--json-out", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
def main(rate, n, wait, json_out):
    """Rows/s and 429s of the batch paths: bundled connector vs Segment's published destination."""
    ensure_installed()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        args, proxy_env = proxy_serve_args(workdir / "ca")
        emulator = start_emulator(workdir, *args)
        url = emulator.url
        try:
            bundled = run_mode(
                url, workdir, "bundled async", n, rate, batching={"enabled": True, "poll_interval": 0.25}
            )
            bundled_tenant_stats = {"rows_in_emulator": bundled["rows_in_emulator"]}
            results = [
                {
                    "mode": "bundled async",
                    "events": n,
                    **bundled_tenant_stats,
                    "seconds": bundled["seconds"],
                    "rows_per_s": bundled["rows_per_s"],
                    "requests": bundled["requests"],
                    "http_429": bundled["http_429"],
                    "sender_report": {"delivered": bundled["delivered"], "rejected": bundled["rejected"]},
                },
                run_segment(url, proxy_env, workdir, "asyncDataExtension", n, rate, wait),
                run_segment(url, proxy_env, workdir, "dataExtension", n, rate, wait),
            ]
        finally:
            emulator.stop()
    base = results[0]["rows_per_s"] or 1.0
    click.echo(f"{n} identify events per mode; each tenant limited to {rate:g} requests/s; one emulator")
    for r in results:
        click.echo(
            f"{r['mode']:<32} {r['rows_in_emulator']:>7} rows in {r['seconds']:>7.2f} s = "
            f"{r['rows_per_s']:>9.1f} rows/s ({r['rows_per_s'] / base:.2f}x bundled); "
            f"{r['requests']} requests, {r['http_429']} x 429; sender: {json.dumps(r['sender_report'])}"
        )
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
