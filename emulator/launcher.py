"""Start an emulator and stop it again: the one launcher of the tests, the conformance harness and the load tests.

- ``start_emulator(*args, database=..., demo=..., ...)``: ``sfmc-emulator serve`` on a free port as a child
  process; ``args`` are more ``serve`` options (``--workers``, ``--rate-limit``, ``--proxy-port``, ...) and come
  last, so they override the defaults given here.
- ``ThreadedEmulator``: an emulator served by waitress on a free port inside this process (real HTTP, and the
  caller can move its clock or reach its state).
- ``start_process(cmd, name=..., health=...)``: the generic piece under ``start_emulator``, for any server that
  prints ``listening on http://host:port/`` (the connector's tracking API, the load tests' bare Flask baseline).

Every server binds to 127.0.0.1 on a port the system picks. A child's output goes to a log file, never to a
pipe nobody reads (which would block it); it is ready once its URL line is printed and its health path answers.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from flask import Flask

    from .clock import Clock
    from .core import Emulator

# A harness reads each tenant's journal back (conformance checks count calls): keep more than serve's 1000.
HARNESS_JOURNAL_SIZE = 5000
_URL_LINE = re.compile(r"listening on (http://\S+?)/")


class _Stoppable(ABC):
    """``with server:`` stops it at the end of the block."""

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class ServerProcess(_Stoppable):
    """A server running as a child process: its URL, what it printed before the URL line, its log."""

    def __init__(self, proc: subprocess.Popen[str], name: str, log_path: str):
        self.proc = proc
        self.name = name
        self.log_path = log_path
        self.url = ""
        self.banner: list[str] = []  # lines printed before the URL line (HTTPS listener, proxy)

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr); empty once it was stopped."""
        path = Path(self.log_path)
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 15 s; its log file is removed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        Path(self.log_path).unlink(missing_ok=True)

    def kill(self) -> None:
        """``kill -9``: no clean shutdown (what durability tests need); ``stop`` still removes the log."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def start_process(
    cmd: list[str],
    *,
    name: str,
    health: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 30.0,
) -> ServerProcess:
    """Run ``cmd``, wait for its ``listening on http://host:port/`` line, then (if given) for ``health`` to answer.

    Any HTTP answer on ``health`` counts: the server is up (an admin token may still refuse the call).
    ``env`` defaults to this process's environment with unbuffered Python output.
    """
    log = tempfile.NamedTemporaryFile("w+", prefix=f"{name}-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
    )
    log.close()
    server = ServerProcess(proc, name, log.name)
    deadline = time.monotonic() + timeout
    while not server.url:
        text = server.output()
        match = _URL_LINE.search(text)
        if match:
            server.url = match.group(1)
            server.banner = text[: text.rfind("\n", 0, match.start()) + 1].splitlines()
        elif proc.poll() is not None:
            server.stop()
            raise RuntimeError(f"{name} exited with status {proc.returncode}: {text[-2000:]}")
        elif time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{name} did not start within {timeout:g} s: {text[-2000:]}")
        else:
            time.sleep(0.05)
    while health is not None and not _answers(server.url + health):
        if time.monotonic() > deadline or proc.poll() is not None:
            server.stop()
            raise RuntimeError(f"{name} at {server.url} does not answer {health}")
        time.sleep(0.05)
    return server


def _answers(url: str) -> bool:
    """Whether anything answers HTTP at ``url`` (straight to the address: no proxy from the environment)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2)
    try:
        connection.request("GET", parts.path or "/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def serve_command(
    *args: str,
    database: str = ":memory:",
    demo: bool = False,
    threads: int | None = None,
    journal_size: int | None = HARNESS_JOURNAL_SIZE,
) -> list[str]:
    """The ``sfmc-emulator serve`` command line: a free port of 127.0.0.1, only the URL line printed.

    ``journal_size=None`` and ``threads=None`` keep ``serve``'s own defaults; ``demo`` loads the bundled demo
    tenant as a plain ``serve`` does; ``args`` come last and override all of these.
    """
    cmd = [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", "0", "--quiet"]
    cmd += ["--db", database]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    if journal_size is not None:
        cmd += ["--journal-size", str(journal_size)]
    if not demo:
        cmd.append("--no-demo")
    return [*cmd, *args]


def start_emulator(
    *args: str,
    database: str = ":memory:",
    demo: bool = False,
    threads: int | None = None,
    journal_size: int | None = HARNESS_JOURNAL_SIZE,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 30.0,
) -> ServerProcess:
    """``sfmc-emulator serve`` as a child process, ready once ``/_emulator/health`` answers (see ``serve_command``)."""
    cmd = serve_command(*args, database=database, demo=demo, threads=threads, journal_size=journal_size)
    return start_process(cmd, name="sfmc-emulator", health="/_emulator/health", env=env, cwd=cwd, timeout=timeout)


class ThreadedEmulator(_Stoppable):
    """An emulator served by waitress on a free port of 127.0.0.1 inside this process.

    Built from ``clock``, ``database`` and ``journal_size``, or around a ready ``app`` (``create_app(...)``).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        database: str = ":memory:",
        journal_size: int = HARNESS_JOURNAL_SIZE,
        threads: int = 16,
        app: Flask | None = None,
    ):
        from .app import create_app
        from .core import Config
        from .waitress_server import create_server

        self.clock = clock
        self.app = app or create_app(Config(database=database, journal_size=journal_size), clock=clock)
        self.server: Any = create_server(self.app, host="127.0.0.1", port=0, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self._serve, name="sfmc-emulator", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the listening socket was closed by stop(): the run is over
            self.server.run()

    @property
    def emulator(self) -> Emulator:
        emulator: Emulator = self.app.extensions["sfmc"]
        return emulator

    def stop(self) -> None:
        self.server.close()

    close = stop
