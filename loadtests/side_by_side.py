"""Two versions of the emulator measured side by side: rowset throughput and server CPU per request.

Serves the emulator from each source tree in turn (``--before`` and ``--after``, each a checkout of
the repository: its code is imported through ``PYTHONPATH``, this environment's packages serve
both), exactly as ``loadtests.ratios`` does (``serve`` with a file database, ``--journal-size
100000``, waitress with the same threads, a tenant with throttling off), alternated for
``--rounds`` rounds, with the bare Flask echo measured in every round as the ceiling. Prints every
run and the medians: req/s, the ratio to the bare echo of the same round, and the server process's
own CPU time per request (``/proc``), the figure that holds up best on a shared machine, split into
waitress's I/O thread (the main thread: accepting, reading and parsing requests, handing them over)
and its worker threads (the application, writing the answer).

    python -m loadtests.side_by_side --before /path/to/old/checkout [--after .] [--rows 1]
                                     [--rounds 3] [--seconds 10] [--users 8] [--threads 8]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import click

from emulator import launcher

from .bench_sync import measure
from .common import REPO, child_env, process_cpu_seconds, running, split_thread_cpu, start_bare, thread_cpu_seconds


def _emulator(tree: Path, folder: Path, threads: int) -> launcher.ServerProcess:
    env = child_env()
    env["PYTHONPATH"] = str(tree)
    return launcher.start_emulator(
        "--journal-size", "100000", database=str(folder / "emulator.sqlite3"), threads=threads, env=env, cwd=tree
    )


def _run(server: launcher.ServerProcess, folder: Path, target: str, rows: int, users: int, seconds: float) -> dict:
    pid = server.proc.pid
    cpu, threads = process_cpu_seconds(pid), thread_cpu_seconds(pid)
    figures = measure(server.url, folder, target=target, rows=rows, users=users, seconds=seconds)
    cpu = process_cpu_seconds(pid) - cpu
    io_thread, workers = split_thread_cpu(pid, threads, thread_cpu_seconds(pid))
    count = max(figures["all_requests"], 1)
    figures["server_cpu_ms_per_request"] = cpu * 1000 / count
    figures["io_thread_ms_per_request"] = io_thread * 1000 / count
    figures["workers_ms_per_request"] = workers * 1000 / count
    return figures


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--before", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--after", default=str(REPO), show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--seconds", default=10.0, show_default=True, type=click.FloatRange(min=1))
@click.option("--users", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=8, show_default=True)
def main(before, after, rows, rounds, seconds, users, threads):
    """The emulator of two source trees, alternated, against the bare echo of the same rounds."""
    trees = {"before": before.resolve(), "after": after.resolve()}
    runs: dict[str, list[dict]] = {"before": [], "after": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp, running(start_bare(threads)) as (bare,):
        for i in range(rounds):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            for name in order:
                folder = Path(tmp) / f"{name}-{i}"
                folder.mkdir()
                with running(_emulator(trees[name], folder, threads)) as (emu,):
                    runs[name].append(_run(emu, folder, "emulator", rows, users, seconds))
            folder = Path(tmp) / f"bare-{i}"
            folder.mkdir()
            runs["bare"].append(_run(bare, folder, "bare", rows, users, seconds))
            for name in (*order, "bare"):
                f = runs[name][-1]
                click.echo(
                    f"round {i + 1} {name:<6} {f['req_per_s']:8.1f} req/s  "
                    f"CPU {f['server_cpu_ms_per_request']:.3f} ms/request "
                    f"(I/O thread {f['io_thread_ms_per_request']:.3f}, "
                    f"worker threads {f['workers_ms_per_request']:.3f})  ({f['requests']} requests, "
                    f"{set(f['statuses'])} statuses)"
                )
            sys.stdout.flush()
    click.echo(f"\n{rows}-row rowset upserts, {users} users, waitress {threads} threads, {rounds} rounds; medians:")
    bare_rates = [f["req_per_s"] for f in runs["bare"]]
    for name in ("before", "after", "bare"):
        rates = [f["req_per_s"] for f in runs[name]]
        cpus = [f["server_cpu_ms_per_request"] for f in runs[name]]
        io_thread = statistics.median(f["io_thread_ms_per_request"] for f in runs[name])
        workers = statistics.median(f["workers_ms_per_request"] for f in runs[name])
        ratios = [r / b for r, b in zip(rates, bare_rates, strict=True)]
        click.echo(
            f"  {name:<6} {statistics.median(rates):8.1f} req/s  ratio to bare {statistics.median(ratios):.2f} "
            f"({', '.join(f'{r:.2f}' for r in ratios)})  CPU {statistics.median(cpus):.3f} ms/request "
            f"({', '.join(f'{c:.3f}' for c in cpus)}; I/O thread {io_thread:.3f}, worker threads {workers:.3f})"
        )


if __name__ == "__main__":
    main()
