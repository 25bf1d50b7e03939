"""Shared-emulator throughput: SQLite in one process against PostgreSQL with 1 and 2 workers.

In one run, on one machine: starts ``sfmc-emulator serve`` three ways with the same scenario (one
10-column Data Extension, throttling off) and drives ``POST /hub/v1/dataevents/key:{key}/rowset``
with 1-row and 50-row upserts from a separate locust process (FastHttpUser, keep-alive, closed
loop), as ``loadtests.bench_sync`` does. The baseline is SQLite in one process, measured in the same
run; every other figure is printed with its ratio to it. PostgreSQL is a throw-away cluster from
the system's binaries (``conformance/pgcluster.py``), or the server given with ``--postgres-url``.

    python -m loadtests.bench_shared [--seconds 10] [--users 8] [--json-out figures.json]
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import click

from conformance.pgcluster import PostgresCluster

from .bench_sync import CLIENT_ID, CLIENT_SECRET, TOOL, line, measure, scenario_file
from .common import running, start_emulator

SETUPS = (("sqlite-1", None, 1), ("pg-1", "pg", 1), ("pg-2", "pg", 2))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seconds", default=10.0, show_default=True, type=click.FloatRange(min=1), help="Each measurement.")
@click.option("--users", default=8, show_default=True, type=click.IntRange(min=1), help="Keep-alive locust users.")
@click.option("--threads", default=8, show_default=True, help="waitress threads per emulator process.")
@click.option(
    "--postgres-url",
    help="Use this empty PostgreSQL database instead of a throw-away cluster (its tables are dropped between setups).",
)
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(seconds, users, threads, postgres_url, json_out):
    """1-row and 50-row upserts per second: SQLite 1 process vs PostgreSQL 1 and 2 workers."""
    results: dict[str, dict[int, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-shared-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        cluster = None if postgres_url else stack.enter_context(PostgresCluster())
        for label, store, workers in SETUPS:
            args = ["--rate-limit", "0", "--scenario", str(scenario_file(folder))]
            if store == "pg":
                args += ["--db", postgres_url or cluster.create_schema(), "--workers", str(workers)]
            with running(start_emulator(folder, *args, threads=threads)) as (emu,):
                creds = {"LOADTEST_CLIENT_ID": CLIENT_ID, "LOADTEST_CLIENT_SECRET": CLIENT_SECRET}
                for rows in (1, 50):
                    figures = measure(
                        emu.url, folder, target="emulator", rows=rows, users=users, seconds=seconds, env=creds,
                        tag=f"{label}-{rows}",
                    )  # fmt: skip
                    figures["target"] = label
                    results.setdefault(label, {})[rows] = figures
                    click.echo(line(figures))
            if postgres_url and store == "pg":  # one database for both PostgreSQL setups: start the next clean
                _drop_tables(postgres_url)
    click.echo("\nratio to SQLite in one process (same run, same machine):")
    for rows in (1, 50):
        base = results["sqlite-1"][rows]["req_per_s"]
        ratios = "  ".join(f"{label} {results[label][rows]['req_per_s'] / base:.2f}" for label, _, _ in SETUPS)
        click.echo(f"  {rows:>2}-row upserts: {ratios}")
    click.echo(
        f"\nmachine: {os.cpu_count()} CPU cores shared by the load generator, the emulator processes and "
        f"PostgreSQL; emulator: waitress, {threads} threads per process, --rate-limit 0; client: {TOOL}, {users} users"
    )
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))


def _drop_tables(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        for table in tables:
            conn.execute(f'DROP TABLE "{table}" CASCADE')


if __name__ == "__main__":
    main()
