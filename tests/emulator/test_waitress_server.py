"""The emulator's waitress (``emulator.waitress_server``): every answer still arrives whole and in order.

Its connections are left out of the I/O thread's write poll while a worker is writing to them; these tests
drive the paths where the I/O thread must still do the flushing: an answer larger than the socket buffers
read slowly (the worker's sends stop short, it waits for the buffer to drain below the high watermark),
pipelined requests on one connection, and many connections answered at once.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator.waitress_server import QuietChannel, create_server

CHUNK = 64 * 1024


def app(environ, start_response):
    """``/big/N``: N chunks of 64 KiB; anything else: a short echo of the path."""
    path = environ["PATH_INFO"]
    if path.startswith("/big/"):
        count = int(path.rsplit("/", 1)[1])
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(count * CHUNK))])
        return (bytes([i % 251]) * CHUNK for i in range(count))
    body = path.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def server():
    # a small high watermark: a large answer makes the worker wait for the I/O thread to drain its output
    srv = create_server(app, host="127.0.0.1", port=0, threads=4, outbuf_high_watermark=256 * 1024)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield srv
    srv.close()


def read_answer(sock: socket.socket, buffer: bytearray, pause: float = 0.0) -> tuple[bytes, bytes]:
    """One answer off ``sock`` (head, body); ``pause`` between small reads makes a slow client."""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(4096)
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end])
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    del buffer[: end + 4]
    while len(buffer) < length:
        chunk = sock.recv(16 * 1024)
        assert chunk, "the server closed the connection mid-answer"
        buffer += chunk
        if pause:
            time.sleep(pause)
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body


def expected_big(count: int) -> bytes:
    return b"".join(bytes([i % 251]) * CHUNK for i in range(count))


def test_listeners_serve_their_connections_with_the_quiet_channel(server):
    assert server.channel_class is QuietChannel
    first, second = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    multi = create_server(app, sockets=[first, second], threads=1)
    try:
        listeners = [s for s in multi.map.values() if hasattr(s, "channel_class")]
        assert len(listeners) == 2 and all(s.channel_class is QuietChannel for s in listeners)
    finally:
        multi.close()


def test_a_large_answer_to_a_slow_reader_arrives_whole_and_the_connection_goes_on(server):
    port = server.effective_port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        buffer = bytearray()
        sock.sendall(f"GET /big/96 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head, body = read_answer(sock, buffer, pause=0.0005)
        assert head.startswith(b"HTTP/1.1 200")
        assert hashlib.sha256(body).digest() == hashlib.sha256(expected_big(96)).digest()
        sock.sendall(f"GET /after HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert read_answer(sock, buffer)[1] == b"/after"


def test_pipelined_requests_are_answered_in_order(server):
    port = server.effective_port
    paths = [f"/p{i}" if i % 3 else "/big/8" for i in range(12)]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode() for p in paths))
        buffer = bytearray()
        bodies = [read_answer(sock, buffer)[1] for _ in paths]
    assert bodies == [expected_big(8) if p == "/big/8" else p.encode() for p in paths]


def test_many_connections_at_once_each_get_their_own_answers(server):
    url = f"http://127.0.0.1:{server.effective_port}"

    def client(n: int) -> list[str]:
        with requests.Session() as session:
            return [session.get(f"{url}/c{n}-{i}", timeout=30).text for i in range(25)]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(client, range(16)))
    assert answers == [[f"/c{n}-{i}" for i in range(25)] for n in range(16)]
