"""A lean open-loop HTTP client: the throttle scenario's load with almost nothing of its own in the latency.

It measures what locust's ``FastHttpUser`` measures in ``locustfile_throttle.py`` (the time from sending a
request to having read the whole answer, on keep-alive connections) under the same load: ``users``
connections, each sending ``user_rps`` 1-row rowset upserts per second on a random phase in the first
second, a connection behind schedule sending its next request at once but never catching up with a burst
(``sfmc_user.paced``). The difference is the client: one thread, non-blocking sockets and ``selectors``,
no gevent hub, no per-request event hooks, no stats; the time is taken right before the request's
``send`` and right after the ``recv`` that completes its answer. Every answer's sample is written at the
end in the recorder's format (``loadtests.recorder``), so ``analysis`` reads it like a locust run.

Runs as its own process (``python -m loadtests.openloop``), as locust does, so the server it measures
never shares its interpreter; ``run_open_loop`` starts it and waits for it.

    python -m loadtests.openloop --host http://127.0.0.1:8085 --token TOKEN --seconds 30 --out samples.csv
"""

from __future__ import annotations

import csv
import heapq
import json
import os
import random
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import click

from .common import DE_KEY, REPO, child_env, row
from .recorder import HEADER

PATH = f"/hub/v1/dataevents/key:{DE_KEY}/rowset"
NAME = "rowset 1 row"  # the name locust's throttle scenario gives the same request
GRACE = 90.0  # seconds past the planned run before the client process counts as hung


class AnswerError(Exception):
    """An answer this client cannot read (no Content-Length, a closed connection)."""


@dataclass
class Connection:
    index: int
    sock: socket.socket
    due: float = 0.0  # when its next request is to be sent (perf_counter seconds)
    sent_at: float = 0.0  # perf_counter at the send of the request in flight
    sent_epoch: float = 0.0
    busy: bool = False
    buffer: bytearray = field(default_factory=bytearray)


def request_bytes(host: str, token: str, key: str) -> bytes:
    """One 1-row rowset upsert, headers and body in one buffer (one ``send``)."""
    body = json.dumps([row(key)], separators=(",", ":")).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loadtests-openloop\r\n"
        f"Accept-Encoding: identity\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def answer_status(buffer: bytearray) -> tuple[int, int] | None:
    """``(status, length)`` once ``buffer`` holds a whole answer (``length``: its bytes); None before that."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = None
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        elif name.strip().lower() == "transfer-encoding":
            raise AnswerError(f"chunked answers are not read by this client: {line!r}")
    if length is None:
        raise AnswerError(f"an answer without Content-Length: {head[0]!r}")
    total = end + 4 + length
    return (status, total) if len(buffer) >= total else None


def run(url: str, token: str, *, seconds: float, users: int, user_rps: float, seed: int | None = None) -> list[tuple]:
    """Drive ``url`` for ``seconds``; the samples ``(start epoch, ms, status, name, group)``."""
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    host_header = parts.netloc
    period = 1.0 / user_rps
    rng = random.Random(seed)
    prefix = f"thr-{os.getpid()}"
    counter = 0
    selector = selectors.DefaultSelector()
    connections = []
    for i in range(users):
        sock = socket.create_connection(address, timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = Connection(i, sock)
        connections.append(conn)
        selector.register(sock, selectors.EVENT_READ, conn)
    samples: list[tuple] = []
    start = time.perf_counter()
    stop_sending = start + seconds
    queue = []
    for conn in connections:  # each connection on its own phase in the first second (sfmc_user.spread)
        conn.due = start + rng.random()
        queue.append((conn.due, conn.index))
    heapq.heapify(queue)
    try:
        while True:
            now = time.perf_counter()
            while queue and queue[0][0] <= now:
                _due, index = heapq.heappop(queue)
                if now >= stop_sending:
                    continue
                conn = connections[index]
                counter += 1
                data = request_bytes(host_header, token, f"{prefix}-{counter}")
                conn.sent_epoch = time.time()
                conn.sent_at = time.perf_counter()
                conn.sock.sendall(data)  # a few hundred bytes into an empty socket buffer: never blocks
                conn.busy = True
                now = time.perf_counter()
            if not queue and not any(c.busy for c in connections):
                break
            if now > stop_sending + 10:  # answers still missing 10 s after the last request: give up on them
                for conn in connections:
                    if conn.busy:
                        samples.append((conn.sent_epoch, (now - conn.sent_at) * 1000, 0, NAME, ""))
                break
            timeout = max(0.0, queue[0][0] - now) if queue else 0.5
            for key, _events in selector.select(timeout):
                conn = key.data
                chunk = conn.sock.recv(65536)
                done_at = time.perf_counter()
                if not chunk:
                    raise AnswerError(f"the server closed connection {conn.index}")
                conn.buffer += chunk
                answer = answer_status(conn.buffer)
                if answer is None:
                    continue
                status, length = answer
                samples.append((conn.sent_epoch, (done_at - conn.sent_at) * 1000, status, NAME, ""))
                del conn.buffer[:length]
                conn.busy = False
                # the next request on this connection: one period after the last one was due, or at once
                conn.due = max(conn.due + period, done_at)
                heapq.heappush(queue, (conn.due, conn.index))
    finally:
        for conn in connections:
            selector.unregister(conn.sock)
            conn.sock.close()
        selector.close()
    return samples


def write_samples(path: Path, samples: list[tuple], group: str) -> None:
    """The recorder's CSV (``loadtests.recorder``), each sample under ``group`` (the tenant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows((f"{s:.6f}", f"{ms:.3f}", status, name, group) for s, ms, status, name, _g in samples)


def run_open_loop(
    url: str, token: str, samples_dir: Path, *, seconds: float, users: int, user_rps: float, group: str = ""
) -> Path:
    """``python -m loadtests.openloop`` in its own process; the folder holding its samples."""
    samples_dir.mkdir(parents=True, exist_ok=True)
    out = samples_dir / "samples-openloop.csv"
    cmd = [sys.executable, "-m", "loadtests.openloop", "--host", url, "--token", token]
    cmd += ["--seconds", str(seconds), "--users", str(users), "--user-rps", str(user_rps), "--out", str(out)]
    cmd += ["--group", group]
    done = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=seconds + GRACE)
    if done.returncode != 0:
        raise RuntimeError(f"the open-loop client failed ({done.returncode}): {done.stdout}{done.stderr}")
    return samples_dir


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", "url", required=True, help="Base URL of the server (http://127.0.0.1:PORT).")
@click.option("--token", required=True, help="Bearer token sent with every request.")
@click.option("--seconds", default=30.0, show_default=True, type=click.FloatRange(min=0.1))
@click.option("--users", default=25, show_default=True, type=click.IntRange(min=1), help="Keep-alive connections.")
@click.option("--user-rps", default=4.0, show_default=True, type=click.FloatRange(min=0.01), help="Requests/s each.")
@click.option("--group", default="", help="The samples' group column (the tenant).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Samples CSV to write.")
def main(url, token, seconds, users, user_rps, group, out):
    """Send the throttle scenario's open-loop load and write every answer's latency."""
    samples = run(url, token, seconds=seconds, users=users, user_rps=user_rps)
    write_samples(out, samples, group)
    click.echo(f"{len(samples)} answers written to {out}")


if __name__ == "__main__":
    main()
