"""waitress as the emulator serves with it: ``create_server``, whose connections never busy-poll a running task.

waitress answers from its worker threads: a task's ``write_soon`` appends its output and sends it at once
(``send_bytes`` 1), holding the connection's ``outbuf_lock`` while it does. The I/O thread's ``writable()``
says "poll this socket for writing" whenever output is pending, so while a worker sits between appending
and sending (waiting for the GIL, or in ``send``), the socket is writable, ``select`` returns at once, the
I/O thread's ``handle_write`` fails to take the lock the worker holds, and it loops again: a busy loop that
takes the GIL back from the very worker it waits for. Measured under the throttle scenario's open-loop load
(100 req/s on 25 keep-alive connections): about 3.5 such empty turns per request, the I/O thread's CPU time
per request 0.26-0.31 ms against 0.17 ms without them, and the 429s' p90 at the client twice as long
(docs/performance.md, "The 429s' latency at the client").

``QuietChannel.writable`` leaves a connection out of the write poll while a worker holds its output lock:
that worker sends what it appended itself, and pulls waitress's trigger (waking the I/O thread, which then
finds the lock free) whenever output is left unsent, when it waits for the buffer to drain, and when its
task ends. Everything else is waitress's own logic: with no task running, or a connection about to close,
pending output is flushed by the I/O thread as before.
"""

from __future__ import annotations

from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.server import create_server as waitress_create_server


class QuietChannel(HTTPChannel):  # type: ignore[misc]
    """waitress's HTTP connection, not polled for writing while a worker thread is writing to it."""

    def writable(self) -> bool:
        if not (self.total_outbufs_len or self.will_close or self.close_when_flushed):
            return False
        if self.requests and not (self.will_close or self.close_when_flushed):
            # a task runs: if its thread holds the output lock, it is writing and flushes (or wakes us) itself
            if not self.outbuf_lock.acquire(False):
                return False
            self.outbuf_lock.release()
        return True


def create_server(application: Any, **adjustments: Any) -> Any:
    """``waitress.server.create_server`` with every listener's connections served by ``QuietChannel``.

    Takes waitress's adjustments (``host``, ``port``, ``sockets``, ``threads``, ``connection_limit``, ...)
    and returns its server (one listener, or a ``MultiSocketServer`` over several).
    """
    socket_map: dict[int, Any] = {}  # waitress makes one when given none; ours lets us find its listeners
    server = waitress_create_server(application, map=socket_map, **adjustments)
    for listener in list(socket_map.values()):
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = QuietChannel
    return server
