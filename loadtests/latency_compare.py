"""The 429 latency of two checkouts side by side: each one's emulator and bare echo, rounds alternated.

Starts ``sfmc-emulator serve`` and the bare echo (``loadtests.bare``) from each checkout (its own code
on ``PYTHONPATH``, this interpreter), then in every round drives each checkout's emulator (a fresh
tenant limited to 20/s: its 429s) and bare echo (all 200s) with the lean open-loop client
(``loadtests.openloop``, the throttle scenario's 100 req/s), the checkouts' order swapped every round.
Prints each round's percentiles and each server process's CPU time per request, then the figures over
all rounds; a change to the server or the request chain shows as the same checkout ahead in every round.

    python -m loadtests.latency_compare /path/to/old-checkout . [--rounds 3] [--seconds 15]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from emulator.launcher import serve_command, start_process

from . import analysis, common
from .openloop import run_open_loop

LIMIT = 20.0
USERS, USER_RPS = 25, 4.0


def start_pair(tree: Path, folder: Path, name: str, threads: int):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(tree)}
    database = str(folder / f"{name}.sqlite3")
    cmd = serve_command("--journal-size", "100000", database=database, threads=threads, journal_size=None)
    emulator = start_process(cmd, name=f"emulator-{name}", health="/_emulator/health", env=env, cwd=tree)
    bare_cmd = [sys.executable, "-m", "loadtests.bare", "--port", "0", "--threads", str(threads)]
    try:
        bare = start_process(bare_cmd, name=f"bare-{name}", health="/health", env=env, cwd=tree)
    except Exception:
        emulator.stop()
        raise
    return emulator, bare


def one_round(emulator, bare, folder: Path, tag: str, seconds: float) -> dict:
    raw = common.ensure_tenant(emulator.url, f"lt-compare-{tag}", {"rate_limit": LIMIT, "burst": LIMIT})
    token = common.get_token(emulator.url, *common.credentials(raw))
    figures: dict = {"load_average": round(os.getloadavg()[0], 2)}
    for target, server, auth in (("emulator", emulator, token), ("bare", bare, "bare")):
        cpu = common.process_cpu_seconds(server.proc.pid)
        samples = analysis.load_samples(
            run_open_loop(
                server.url, auth, folder / f"raw-{tag}-{target}", seconds=seconds, users=USERS, user_rps=USER_RPS
            )
        )
        cpu = common.process_cpu_seconds(server.proc.pid) - cpu
        wanted = 429 if target == "emulator" else 200
        figures[target] = [s.ms for s in samples if s.status == wanted]
        figures[f"{target}_cpu_ms"] = cpu / max(len(samples), 1) * 1000
    return figures


def describe(ms: list[float]) -> str:
    p = analysis.percentile
    return f"p50 {analysis.fmt_ms(p(ms, 50))} p90 {analysis.fmt_ms(p(ms, 90))} p99 {analysis.fmt_ms(p(ms, 99))}"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("old", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--seconds", default=15.0, show_default=True, type=click.FloatRange(min=1), help="Each run's length.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1), help="waitress threads.")
def main(old: Path, new: Path, rounds: int, seconds: float, threads: int) -> None:
    """429 latency at the client (and the bare echo's) of two checkouts, side by side."""
    trees = {"old": old.resolve(), "new": new.resolve()}
    pooled: dict = {name: {"emulator": [], "bare": [], "emulator_cpu_ms": [], "bare_cpu_ms": []} for name in trees}
    loads = []
    with tempfile.TemporaryDirectory(prefix="latency-compare-") as tmp:
        folder = Path(tmp)
        servers: dict = {}
        try:
            for name, tree in trees.items():
                servers[name] = start_pair(tree, folder, name, threads)
            for n in range(rounds):
                for name in ("old", "new") if n % 2 == 0 else ("new", "old"):
                    figures = one_round(*servers[name], folder, f"{name}-{n}", seconds)
                    loads.append(figures["load_average"])
                    for key, values in pooled[name].items():
                        values.extend(figures[key] if isinstance(figures[key], list) else [figures[key]])
                    click.echo(
                        f"round {n + 1} {name} (load average {figures['load_average']:g}): emulator 429s "
                        f"{describe(figures['emulator'])}, server CPU {figures['emulator_cpu_ms']:.3f} ms/request | "
                        f"bare {describe(figures['bare'])}, server CPU {figures['bare_cpu_ms']:.3f} ms/request"
                    )
        finally:
            for pair in servers.values():
                for server in pair:
                    server.stop()
    click.echo(f"\nover {rounds} rounds of {seconds:g} s each (load average {min(loads):g}-{max(loads):g}):")
    for name, tree in trees.items():
        p = pooled[name]
        cpu = ", ".join(f"{v:.3f}" for v in p["emulator_cpu_ms"])
        bare_cpu = ", ".join(f"{v:.3f}" for v in p["bare_cpu_ms"])
        click.echo(
            f"   {name} ({tree}): emulator 429s ({len(p['emulator'])}) {describe(p['emulator'])}, CPU ms/request {cpu}"
            f"\n   {'':{len(name)}} bare echo ({len(p['bare'])}) {describe(p['bare'])}, CPU ms/request {bare_cpu}"
        )


if __name__ == "__main__":
    main()
