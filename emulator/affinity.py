"""One CPU per serving process (``serve --cpu``): every thread of the process kept on the same CPU.

Why: the emulator's Python runs under the GIL, one thread at a time, yet Linux spreads a process's
threads over every CPU. Each time the GIL passes to a thread on another CPU, the interpreter's working
set (the app, its caches, every object's reference count) moves between CPU caches. On the 2-core
benchmark machine a process kept on one CPU served 1-row upserts 1.7x as fast (docs/performance.md,
"One CPU per server process"). What it gives up: SQLite's and the sockets' work, done without the GIL,
no longer overlaps with other threads on a second CPU, and the process cannot move off its CPU when that
one gets busy. So it is a choice, not the default: ``auto`` picks the least busy CPUs at start.

Linux only (``os.sched_setaffinity``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

AUTO = "auto"


class AffinityError(ValueError):
    """A ``--cpu`` value this machine cannot honour; the message says what it can."""


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order."""
    if not hasattr(os, "sched_getaffinity"):
        raise AffinityError("CPU choice needs Linux (os.sched_setaffinity); leave --cpu out on this system")
    return sorted(os.sched_getaffinity(0))


def parse_cpus(text: str) -> list[int] | None:
    """``auto`` (None: chosen at start) or comma-separated CPU numbers, each one this process may use."""
    text = text.strip().lower()
    allowed = allowed_cpus()
    if text == AUTO:
        return None
    try:
        cpus = [int(part) for part in text.split(",")]
    except ValueError:
        raise AffinityError(f"expected 'auto' or CPU numbers such as 0 or 0,1, got {text!r}") from None
    outside = [cpu for cpu in cpus if cpu not in allowed]
    if outside:
        listed = ",".join(map(str, allowed))
        raise AffinityError(f"CPU {outside[0]} is not one this process may use; choose from {listed} (or auto)")
    return cpus


def _busy_and_total(stat: str) -> dict[int, tuple[int, int]]:
    """Per CPU of a ``/proc/stat`` text: (busy, total) clock ticks since boot."""
    ticks: dict[int, tuple[int, int]] = {}
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        values = [int(v) for v in rest.split()]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        ticks[int(name[3:])] = (sum(values[:8]) - idle, sum(values[:8]))
    return ticks


def least_busy(before: str, after: str, allowed: list[int], count: int) -> list[int]:
    """``count`` CPUs of ``allowed``, least busy first between two ``/proc/stat`` readings (ties: lowest number);
    reused in turn when ``count`` is more than there are CPUs."""
    start, end = _busy_and_total(before), _busy_and_total(after)

    def load(cpu: int) -> float:
        if cpu not in start or cpu not in end:
            return 0.0
        busy = end[cpu][0] - start[cpu][0]
        total = end[cpu][1] - start[cpu][1]
        return busy / total if total > 0 else 0.0

    ranked = sorted(allowed, key=lambda cpu: (load(cpu), cpu))
    return [ranked[i % len(ranked)] for i in range(count)]


def choose_cpus(
    cpus: list[int] | None,
    count: int,
    read_stat: Callable[[], str] | None = None,
    sample_seconds: float = 0.2,
) -> list[int]:
    """One CPU for each of ``count`` processes: the given ones in turn, or (``None``, auto) the least busy
    over ``sample_seconds``."""
    if cpus is not None:
        return [cpus[i % len(cpus)] for i in range(count)]
    read = read_stat or _read_proc_stat
    before = read()
    time.sleep(sample_seconds)
    return least_busy(before, read(), allowed_cpus(), count)


def _read_proc_stat() -> str:
    with open("/proc/stat", encoding="ascii") as stat:
        return stat.read()


def pin_process(cpu: int) -> None:
    """Keep every thread of this process, and every thread it starts later, on ``cpu``."""
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except FileNotFoundError:  # no /proc: the calling thread alone (threads started later inherit it)
        threads = [0]
    for tid in threads:
        try:
            os.sched_setaffinity(tid, {cpu})
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
