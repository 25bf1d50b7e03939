"""``serve --workers N``: several emulator processes sharing one listening socket and one database.

The parent prepares the database (migrations, scenario tenants), binds the socket, and forks N
workers; each builds its own app over its own connections and serves on the inherited socket, so
the kernel hands each new connection to one of them. A worker that dies (even ``kill -9``) is
replaced; what it was doing is either committed or rolled back by PostgreSQL, so nothing half
done remains (see docs/shared-emulator.md). The parent forwards SIGINT/SIGTERM to the workers and
waits for them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable

log = logging.getLogger("sfmc_emulator.workers")
RESPAWN_PAUSE = 0.5  # seconds between restarts of a worker that keeps dying, so a crash loop stays cheap


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def supervise(
    count: int, serve_one: Callable[[int, Callable[[], None]], None], on_ready: Callable[[], None], timeout=120.0
) -> None:
    """Fork ``count`` workers running ``serve_one(index, ready)``; each calls ``ready()`` when it is
    about to serve, and once all have, ``on_ready()`` runs here. Any worker that dies is replaced
    until the parent is told to stop (SIGINT, SIGTERM)."""
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False
    ready_r, ready_w = os.pipe()

    def ready() -> None:
        os.write(ready_w, b".")

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            _end_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                os.close(ready_r)
                serve_one(index, ready)
            except KeyboardInterrupt:
                pass
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = index

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(count):
        spawn(index)
    os.close(ready_w)
    started, deadline = 0, time.monotonic() + timeout
    while started < count and children and time.monotonic() < deadline:
        readable, _, _ = select.select([ready_r], [], [], 0.5)
        if readable:
            signals = os.read(ready_r, count)
            if not signals:  # every worker's end is closed: none will report any more
                break
            started += len(signals)
    os.close(ready_r)
    if started >= count:
        on_ready()
    else:
        log.error("only %d of %d workers started", started, count)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, None)
        if index is None or stopping:
            continue
        log.warning("worker %d (pid %d) ended (%s); starting a new one", index, pid, _describe(status))
        time.sleep(RESPAWN_PAUSE)
        if not stopping:
            spawn(index)


def _end_with_parent() -> None:
    """Linux: the kernel sends this worker SIGTERM when the parent dies (even by ``kill -9``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
