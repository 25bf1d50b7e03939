"""Throughput of the sync rowset path with throttling off, against the stack's ceiling.

Starts a real ``sfmc-emulator serve`` (free port, ``--rate-limit 0``, a temporary database file, a
scenario with one 10-column Data Extension) and the bare Flask echo endpoint served by waitress the
same way, then drives ``POST /hub/v1/dataevents/key:{key}/rowset`` with 1-row and 50-row bodies from
a separate locust process (FastHttpUser, keep-alive, closed loop). Prints the tool, client count,
req/s, rows/s and p50/p99 with every figure, and the ratio emulator/bare. On a small, noisy machine
the ratio means more than the absolute figures.

    python -m loadtests.bench_sync [--seconds 10] [--users 8] [--json-out figures.json]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import yaml

from . import analysis
from .common import DE_KEY, FIELDS, running, start_bare, start_emulator
from .harness import run_locust

HERE = Path(__file__).resolve().parent
TOOL = "locust FastHttpUser (keep-alive), 1 separate process, closed loop"
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret"
WARMUP = 1.0  # seconds left out of every figure: connections opening, users spawning


def scenario_file(folder: Path) -> Path:
    fields = [{("primary_key" if k == "isPrimaryKey" else k): v for k, v in f.items()} for f in FIELDS]
    path = folder / "bench-scenario.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "description": "sync throughput benchmark",
                "tenants": [
                    {
                        "id": "bench",
                        "name": "Bench",
                        "packages": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
                        "settings": {"rate_limit": 0},
                        "data_extensions": [{"key": DE_KEY, "name": "Loadtest Identify", "fields": fields}],
                    }
                ],
            }
        )
    )
    return path


def measure(
    url: str,
    folder: Path,
    *,
    target: str,
    rows: int,
    users: int,
    seconds: float,
    env: dict | None = None,
    tag: str = "",
) -> dict:
    """One closed-loop measurement; figures from the samples after the warm-up second."""
    run = run_locust(
        HERE / "locustfile_bench.py",
        url,
        folder,
        seconds=seconds + WARMUP,
        users=users,
        env={"LOADTEST_TARGET": target, "LOADTEST_ROWS": rows, **(env or {})},
        csv=False,
        tag=tag or f"{target}-{rows}",
    )
    samples = analysis.load_samples(run.samples_dir)
    if not samples:
        raise click.ClickException(f"no requests recorded against {target}; locust exit codes {run.returncodes}")
    # on a loaded machine a short run can spend all of its time warming up: then every sample counts
    steady = [s for s in samples if s.start >= samples[0].start + WARMUP] or samples
    figures = analysis.summarize(steady, seconds=max(s.end for s in steady) - steady[0].start)
    return {
        "target": target,
        "rows_per_request": rows,
        "users": users,
        "tool": TOOL,
        "requests": figures["requests"],
        "all_requests": len(samples),  # the warm-up second's too: what the server's CPU time covers
        "ok": figures["accepted"],
        "statuses": figures["statuses"],
        "seconds": figures["duration_s"],
        "req_per_s": round(figures["req_per_s"], 1),
        "rows_per_s": round(figures["accepted_per_s"] * rows, 1),
        "p50_ms": figures["p50_ms"],
        "p99_ms": figures["p99_ms"],
    }


def line(f: dict) -> str:
    return (
        f"{f['target']:<9} {f['rows_per_request']:>2}-row  {f['req_per_s']:>8.1f} req/s {f['rows_per_s']:>9.1f} "
        f"rows/s  p50 {analysis.fmt_ms(f['p50_ms']):>9}  p99 {analysis.fmt_ms(f['p99_ms']):>9}  "
        f"({f['requests']} requests in {f['seconds']:.1f} s, {f['users']} users, {f['tool']})"
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Length of each measurement (after a 1 s warm-up).",
)
@click.option(
    "--users",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Concurrent locust users (keep-alive connections), closed loop.",
)
@click.option("--threads", default=8, show_default=True, help="waitress threads of both servers.")
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(seconds, users, threads, json_out):
    """Sync rowset throughput (1-row and 50-row upserts), throttling off, emulator vs bare Flask."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        folder = Path(tmp)
        emulator = start_emulator(
            folder, "--rate-limit", "0", "--scenario", str(scenario_file(folder)), threads=threads
        )
        with running(emulator, start_bare(threads)) as (emu, bare):
            creds = {"LOADTEST_CLIENT_ID": CLIENT_ID, "LOADTEST_CLIENT_SECRET": CLIENT_SECRET}
            for rows in (1, 50):
                pair = {}
                for target, url in (("emulator", emu.url), ("bare", bare.url)):
                    pair[target] = measure(
                        url, folder, target=target, rows=rows, users=users, seconds=seconds, env=creds
                    )
                    click.echo(line(pair[target]))
                ratio = pair["emulator"]["req_per_s"] / pair["bare"]["req_per_s"]
                click.echo(f"  {rows}-row ratio emulator/bare: {ratio:.2f}\n")
                results.append({"rows_per_request": rows, **pair, "ratio_emulator_over_bare": round(ratio, 3)})
    click.echo(
        f"servers: waitress, {threads} threads each, on 127.0.0.1; emulator --rate-limit 0 with a file "
        f"database; client: {TOOL}, {users} users"
    )
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
