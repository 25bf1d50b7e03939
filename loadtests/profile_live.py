"""A flame graph of a live server under the throughput benchmark's load.

Serves the emulator (``sfmc-emulator serve``, the benchmark's scenario, throttling off, a file
database) or the bare Flask echo (``loadtests.bare``), both with waitress and the same threads, as
the child of ``py-spy record`` (so no ptrace permission is needed), drives it with the throughput
benchmark's locust user (closed loop, keep-alive) and writes py-spy's SVG when the server stops.
Prints req/s and the server process's CPU time per request (``/proc``) beside it.

    python -m loadtests.profile_live --target emulator --rows 1 -o emulator.svg [--seconds 20]
                                     [--rate 200] [--idle] [--threads 8] [--users 8]

``--idle`` keeps the samples of threads that wait (waitress's idle workers, the I/O thread's
``select``): without it the graph shows only where the CPU went.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from emulator.launcher import ServerProcess, serve_command, start_process

from .bench_sync import CLIENT_ID, CLIENT_SECRET, measure, scenario_file
from .common import REPO, child_env, process_cpu_seconds, split_thread_cpu, thread_cpu_seconds


def _server_pid(spy: subprocess.Popen[str]) -> int:
    """The server: py-spy's one child process."""
    children = Path(f"/proc/{spy.pid}/task/{spy.pid}/children")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = children.read_text().split() if children.exists() else []
        if pids:
            return int(pids[0])
        time.sleep(0.05)
    raise click.ClickException("py-spy started no server")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--target", type=click.Choice(["emulator", "bare"]), default="emulator", show_default=True)
@click.option("--rows", default=1, show_default=True, type=click.IntRange(min=1), help="Rows per request.")
@click.option("--seconds", default=20.0, show_default=True, type=click.FloatRange(min=1))
@click.option("--users", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=8, show_default=True, help="waitress threads.")
@click.option("--rate", default=200, show_default=True, help="py-spy samples per second.")
@click.option("--idle", is_flag=True, help="Keep the samples of waiting threads too.")
@click.option(
    "--gil",
    is_flag=True,
    help="Only the samples of the thread holding the GIL: where the CPU time of Python goes (a thread "
    "waiting on a lock otherwise counts as busy).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["flamegraph", "raw"]),
    default="flamegraph",
    show_default=True,
    help="raw: py-spy's collapsed stacks (one line per stack and its sample count), for counting.",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The graph (or stacks)."
)
def main(target, rows, seconds, users, threads, rate, idle, gil, fmt, output):
    """Profile a live emulator (or the bare echo) under closed-loop rowset upserts."""
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="profile-live-") as tmp:
        folder = Path(tmp)
        if target == "emulator":
            server_cmd = serve_command(
                "--rate-limit",
                "0",
                "--scenario",
                str(scenario_file(folder)),
                database=str(folder / "emulator.sqlite3"),
                threads=threads,
                journal_size=None,
            )
            health = "/_emulator/health"
        else:
            server_cmd = [sys.executable, "-m", "loadtests.bare", "--port", "0", "--threads", str(threads)]
            health = "/health"
        spy_cmd = [spy_bin, "record", "--rate", str(rate), "--format", fmt, "-o", str(output.resolve())]
        if idle:
            spy_cmd.append("--idle")
        if gil:
            spy_cmd.append("--gil")
        server: ServerProcess = start_process(
            [*spy_cmd, "--", *server_cmd], name=f"py-spy-{target}", health=health, env=child_env(), cwd=REPO
        )
        pid = _server_pid(server.proc)
        try:
            cpu_before, threads_before = process_cpu_seconds(pid), thread_cpu_seconds(pid)
            figures = measure(
                server.url,
                folder,
                target=target,
                rows=rows,
                users=users,
                seconds=seconds,
                env={"LOADTEST_CLIENT_ID": CLIENT_ID, "LOADTEST_CLIENT_SECRET": CLIENT_SECRET},
            )
            cpu = process_cpu_seconds(pid) - cpu_before
            io_thread, workers = split_thread_cpu(pid, threads_before, thread_cpu_seconds(pid))
        finally:
            # the server stops on SIGINT; py-spy then writes the graph and exits
            subprocess.run(["kill", "-INT", str(pid)], check=False)
            try:
                server.proc.wait(60)
            except subprocess.TimeoutExpired:
                server.proc.send_signal(signal.SIGINT)
                server.proc.wait(30)
            log = server.output()
            server.stop()
    click.echo(
        f"{target} {rows}-row: {figures['req_per_s']:.1f} req/s, {figures['all_requests']} requests, "
        f"server CPU {cpu * 1000 / max(1, figures['all_requests']):.3f} ms per request "
        f"(I/O thread {io_thread * 1000 / max(1, figures['all_requests']):.3f}, "
        f"worker threads {workers * 1000 / max(1, figures['all_requests']):.3f}) "
        f"(sampled by py-spy at {rate} Hz, which costs the server some CPU too)"
    )
    if not output.exists():
        raise click.ClickException(f"py-spy wrote no graph: {log[-2000:]}")
    click.echo(f"flame graph: {output}")


if __name__ == "__main__":
    main()
