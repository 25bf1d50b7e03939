"""Run locust headless in its own processes: one local runner, or a master and N workers.

Load is generated outside the measuring process (a server and its client sharing one Python
process would share the GIL). Every run is bounded: locust's own run time or the scenario's
shape, and a hard timeout after which the processes are killed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .common import REPO, child_env
from .recorder import SAMPLES_ENV

GRACE = 90.0  # seconds past the planned run before a locust process counts as hung


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocustRun:
    samples_dir: Path
    logs: list[Path] = field(default_factory=list)
    returncodes: list[int] = field(default_factory=list)
    command: list[str] = field(default_factory=list)


def run_locust(
    locustfile: Path,
    host: str,
    out_dir: Path,
    *,
    seconds: float,
    users: int | None = None,
    shape: bool = False,
    workers: int = 0,
    env: dict | None = None,
    csv: bool = True,
    tag: str = "locust",
) -> LocustRun:
    """Run ``locustfile`` against ``host``; samples land in ``out_dir/raw-<tag>``.

    ``shape``: the file's LoadTestShape decides users and duration (LOADTEST_SECONDS is set);
    otherwise ``users`` start at once and run for ``seconds``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = out_dir / f"raw-{tag}"
    samples.mkdir(exist_ok=True)
    environ = child_env(**{SAMPLES_ENV: samples, "LOADTEST_SECONDS": seconds, **(env or {})})
    base = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    cmd = [
        *base,
        "--headless",
        "--host",
        host,
        "--only-summary",
        "--stop-timeout",
        "2",
        "--logfile",
        str(out_dir / f"{tag}.log"),
    ]
    if not shape:
        users = users or 1
        cmd += ["--users", str(users), "--spawn-rate", str(users), "--run-time", f"{max(1, round(seconds))}s"]
    if csv:
        cmd += ["--csv", str(out_dir / tag)]
    port = free_port() if workers else None
    if workers:
        cmd += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(workers),
            "--expect-workers-max-wait",
            "60",
        ]
    run = LocustRun(samples, command=cmd)
    procs: list[subprocess.Popen] = []
    outputs = []
    try:
        out = (out_dir / f"{tag}-master.out" if workers else out_dir / f"{tag}.out").open("w")
        outputs.append(out)
        procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=environ, cwd=REPO))
        for i in range(workers):
            wout = (out_dir / f"{tag}-worker{i + 1}.out").open("w")
            outputs.append(wout)
            procs.append(
                subprocess.Popen(
                    [
                        *base,
                        "--worker",
                        "--master-host",
                        "127.0.0.1",
                        "--master-port",
                        str(port),
                        "--logfile",
                        str(out_dir / f"{tag}-worker{i + 1}.log"),
                    ],
                    stdout=wout,
                    stderr=subprocess.STDOUT,
                    env=environ,
                    cwd=REPO,
                )
            )
        deadline = seconds + GRACE + (60 if workers else 0)
        for proc in procs:
            try:
                run.returncodes.append(proc.wait(deadline))
            except subprocess.TimeoutExpired:
                proc.kill()
                run.returncodes.append(proc.wait(10))
            deadline = 30  # once the master is done, workers only have to quit
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for out in outputs:
            out.close()
    run.logs = sorted(out_dir.glob(f"{tag}*.out"))
    return run
