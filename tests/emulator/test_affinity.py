"""``serve --cpu``: every thread of a serving process kept on one CPU (``emulator/affinity.py``).

Through the CLI as a real process (its threads read from ``/proc``), and the least-busy choice from two
``/proc/stat`` readings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from emulator.affinity import choose_cpus, least_busy
from emulator.launcher import start_emulator

ALLOWED = sorted(os.sched_getaffinity(0))


def cpus_of_every_thread(pid: int) -> set[str]:
    """The ``Cpus_allowed_list`` of each of the process's threads."""
    found = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as status:
            for line in status:
                if line.startswith("Cpus_allowed_list:"):
                    found.add(line.split(":", 1)[1].strip())
    return found


def test_serve_with_a_cpu_keeps_all_its_threads_there_and_serves():
    cpu = ALLOWED[-1]
    with start_emulator("--cpu", str(cpu), "--rate-limit", "0", threads=4) as server:
        assert requests.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200
        # the waitress workers, the I/O thread and the emulator's own threads, all started after the choice
        assert len(os.listdir(f"/proc/{server.proc.pid}/task")) >= 5
        assert cpus_of_every_thread(server.proc.pid) == {str(cpu)}


def test_serve_with_cpu_auto_puts_every_thread_on_one_allowed_cpu():
    with start_emulator("--cpu", "auto", threads=2) as server:
        assert requests.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200
        chosen = cpus_of_every_thread(server.proc.pid)
        assert len(chosen) == 1 and int(next(iter(chosen))) in ALLOWED


def test_serve_without_cpu_leaves_the_threads_free():
    with start_emulator(threads=2) as server:
        assert len(cpus_of_every_thread(server.proc.pid)) == 1
        (listed,) = cpus_of_every_thread(server.proc.pid)
        assert listed == _as_list(ALLOWED)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("4096", "CPU 4096 is not one this process may use; choose from"),
        ("first", "expected 'auto' or CPU numbers such as 0 or 0,1, got 'first'"),
    ],
)
def test_a_cpu_the_machine_cannot_give_is_refused_before_serving(value, message):
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", "--db", ":memory:", "--cpu", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Invalid value for '--cpu'" in result.stderr and message in result.stderr
    assert "listening" not in result.stdout


STAT_BEFORE = """cpu  300 0 300 1000 0 0 0 0 0 0
cpu0 100 0 100 500 0 0 0 0 0 0
cpu1 100 0 100 500 0 0 0 0 0 0
cpu2 100 0 100 500 0 0 0 0 0 0
intr 1 2 3
"""
# over the interval: cpu0 90% busy, cpu1 10% busy, cpu2 50% busy (iowait counts as idle)
STAT_AFTER = """cpu  450 0 450 1150 0 0 0 0 0 0
cpu0 190 0 180 510 0 0 0 0 0 0
cpu1 105 0 105 540 50 0 0 0 0 0
cpu2 125 0 125 550 0 0 0 0 0 0
intr 1 2 3
"""


def test_the_least_busy_cpus_come_first_and_are_reused_in_turn():
    assert least_busy(STAT_BEFORE, STAT_AFTER, [0, 1, 2], 2) == [1, 2]
    assert least_busy(STAT_BEFORE, STAT_AFTER, [0, 1, 2], 4) == [1, 2, 0, 1]
    assert least_busy(STAT_BEFORE, STAT_AFTER, [0, 2], 1) == [2]  # only the CPUs the process may use
    assert least_busy(STAT_BEFORE, STAT_BEFORE, [2, 0, 1], 3) == [0, 1, 2]  # no change: lowest number first


def test_given_cpus_go_to_the_worker_processes_in_turn():
    assert choose_cpus([1, 0], 3) == [1, 0, 1]
    readings = iter([STAT_BEFORE, STAT_AFTER])
    chosen = choose_cpus(None, 1, read_stat=lambda: next(readings), sample_seconds=0)
    assert chosen == [least_busy(STAT_BEFORE, STAT_AFTER, ALLOWED, 1)[0]]


def _as_list(cpus: list[int]) -> str:
    """The kernel's spelling of a CPU set: ranges joined by commas (0-1, or 0,2)."""
    parts, start = [], None
    for i, cpu in enumerate(cpus):
        if start is None:
            start = cpu
        if i + 1 == len(cpus) or cpus[i + 1] != cpu + 1:
            parts.append(str(start) if start == cpu else f"{start}-{cpu}")
            start = None
    return ",".join(parts)
