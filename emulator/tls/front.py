"""The emulator's HTTPS listener and forward proxy: SFMC's host names without /etc/hosts edits or root.

Both run on one asyncio event loop in a background thread of ``sfmc-emulator serve`` and hand each client
connection, decrypted, to the emulator's own waitress listeners over loopback; the emulator then routes
by the ``Host`` header the client sent (``api/hosts.py``), so what answers is exactly what a direct call
gets.

- **HTTPS listener** (``--tls-port``): TLS with the local CA's leaf certificate (``tls/ca.py``), then a
  byte pipe to the emulator's HTTPS-scheme listener (so ``request.scheme`` is ``https``).
- **Forward proxy** (``--proxy-port``), HTTP/1.1 as RFC 9110 section 9.3.6 describes it. The first request on a
  connection is parsed with ``h11`` (a well-kept sans-I/O HTTP/1.1 parser, so no HTTP parsing is written
  here):

  - ``CONNECT {sfmc-host}:443``: ``200``, then TLS terminated here with the local CA (``asyncio``'s
    ``start_tls``) and the decrypted stream piped to the emulator. This is what ``requests``, ``httpx``,
    ``curl`` and Node's ``request`` do with ``HTTPS_PROXY``.
  - An absolute-form request (``POST http://{sfmc-host}/v2/token`` or ``https://...``, the latter being
    what ``axios`` sends for an https URL through an http proxy): forwarded in origin form with
    ``Connection: close``, the answer piped back.
  - ``CONNECT`` or absolute-form to any other host: ``403`` with a message. This proxy reaches nothing
    beyond the emulator.
  - A request h11 cannot parse, a ``CONNECT`` without a port, an origin-form request: ``400`` with a
    message. A client that sends no complete request head within ``head_timeout`` seconds gets ``408``.
    Nothing here leaves a connection hanging or prints a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from ..domain.hosts import classify, split_port

log = logging.getLogger("sfmc_emulator.front")
READ_SIZE = 64 * 1024
QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only
MAX_FORWARDED_BODY = 64 * 1024 * 1024  # the emulator itself answers 413 above SFMC's 5 MB
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"proxy-authorization",
    b"proxy-authenticate",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"content-length",
    b"host",
    b"expect",
}


@dataclass(frozen=True)
class Backends:
    """Where decrypted traffic goes: the emulator's plain listener and its HTTPS-scheme twin."""

    http: tuple[str, int]
    https: tuple[str, int]


class ProxyRefusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class FrontDoor:
    """The asyncio servers (HTTPS listener, forward proxy) in one daemon thread."""

    def __init__(
        self,
        backends: Backends,
        tls_context: ssl.SSLContext,
        *,
        host: str = "127.0.0.1",
        tls_port: int | None = None,
        proxy_port: int | None = None,
        head_timeout: float = 30.0,
    ):
        self.backends = backends
        self.tls_context = tls_context
        self.host = host
        self.tls_port = tls_port
        self.proxy_port = proxy_port
        self.head_timeout = head_timeout
        self.bound: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(self._quiet)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sfmc-front-door", daemon=True)

    def start(self, timeout: float = 10.0) -> FrontDoor:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the HTTPS listener and proxy did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # -- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen())
        except BaseException as err:  # reported to start(), which raises it in the caller's thread
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _listen(self) -> None:
        if self.tls_port is not None:
            server = await asyncio.start_server(
                self._serve_tls, self.host, self.tls_port, ssl=self.tls_context, ssl_handshake_timeout=15
            )
            self.bound["tls"] = server.sockets[0].getsockname()[1]
        if self.proxy_port is not None:
            server = await asyncio.start_server(self._serve_proxy, self.host, self.proxy_port)
            self.bound["proxy"] = server.sockets[0].getsockname()[1]

    @staticmethod
    def _quiet(loop, context) -> None:
        """Handshake failures and resets are a client's business: one debug line, never a traceback."""
        log.debug("front door: %s", context.get("message"), exc_info=False)

    # -- HTTPS listener ----------------------------------------------------------------------------

    async def _serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await self._pipe_to(self.backends.https, reader, writer, b"")

    # -- forward proxy -----------------------------------------------------------------------------

    async def _serve_proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            try:
                request = await asyncio.wait_for(self._next_event(conn, reader), self.head_timeout)
            except TimeoutError:
                raise ProxyRefusal(408, "No complete request head arrived in time.") from None
            except h11.RemoteProtocolError as err:
                raise ProxyRefusal(
                    err.error_status_hint if 400 <= err.error_status_hint < 500 else 400,
                    f"Malformed proxy request: {err}.",
                ) from None
            if not isinstance(request, h11.Request):
                raise ProxyRefusal(400, "Malformed proxy request: the connection closed before a request.")
            if request.method == b"CONNECT":
                await self._connect(conn, request, reader, writer)
            else:
                await self._forward(conn, request, reader, writer)
        except ProxyRefusal as refusal:
            await self._refuse(conn, writer, refusal)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError, h11.ProtocolError) as err:
            log.debug("proxy connection ended: %s", err)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader):
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(READ_SIZE))
                continue
            return event

    async def _connect(self, conn, request: h11.Request, reader, writer) -> None:
        try:
            name, port = split_port(request.target.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            name, port = "", None
        if not name or port is None:
            raise ProxyRefusal(
                400, "Malformed CONNECT: the target must be host:port (e.g. {sub}.auth.marketingcloudapis.com:443)."
            )
        _refuse_unless_sfmc(name, port, 443)
        writer.write(conn.send(h11.Response(status_code=200, headers=[], reason=b"Connection Established")))
        await writer.drain()
        await writer.start_tls(self.tls_context)
        await self._pipe_to(self.backends.https, reader, writer, b"")

    async def _forward(self, conn, request: h11.Request, reader, writer) -> None:
        target = request.target.decode("latin-1")
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProxyRefusal(
                400,
                "This is the SFMC emulator's forward proxy: send absolute-form requests "
                "(POST http://{sub}.auth.marketingcloudapis.com/v2/token) or CONNECT host:443.",
            )
        try:
            port = parts.port
        except ValueError:
            raise ProxyRefusal(400, f"Malformed proxy request: bad port in {target!r}.") from None
        _refuse_unless_sfmc(parts.hostname, port, 443 if parts.scheme == "https" else 80)
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
            await writer.drain()
        body = bytearray()
        while True:
            event = await asyncio.wait_for(self._next_event(conn, reader), self.head_timeout)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_FORWARDED_BODY:
                    raise ProxyRefusal(413, "The request body is larger than this proxy forwards.")
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise ProxyRefusal(400, "Malformed proxy request: the body ended early.")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = [(b"Host", parts.netloc.rpartition("@")[2].encode("latin-1"))]
        headers += [(k, v) for k, v in request.headers if k not in HOP_BY_HOP]
        headers += [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close")]
        upstream = h11.Connection(h11.CLIENT)
        head = upstream.send(h11.Request(method=request.method, target=path.encode("latin-1"), headers=headers))
        first = head + upstream.send(h11.Data(data=bytes(body))) if body else head
        backend = self.backends.https if parts.scheme == "https" else self.backends.http
        await self._pipe_to(backend, reader, writer, first)

    async def _refuse(self, conn: h11.Connection, writer: asyncio.StreamWriter, refusal: ProxyRefusal) -> None:
        body = (refusal.message + "\n").encode()
        headers = [
            (b"Content-Type", b"text/plain; charset=utf-8"),
            (b"Content-Length", str(len(body)).encode()),
            (b"Connection", b"close"),
        ]
        try:
            data = conn.send(
                h11.Response(status_code=refusal.status, headers=headers, reason=_reason(refusal.status).encode())
            ) + conn.send(h11.Data(data=body))
        except h11.LocalProtocolError:  # the parser never saw a request: answer without its help
            data = (
                f"HTTP/1.1 {refusal.status} {_reason(refusal.status)}\r\n".encode()
                + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
                + b"\r\n"
                + body
            )
        with contextlib.suppress(Exception):
            writer.write(data)
            await writer.drain()

    # -- the pipe ------------------------------------------------------------------------------------

    async def _pipe_to(self, backend: tuple[str, int], reader, writer, first: bytes) -> None:
        """Copy bytes both ways between the client and a fresh connection to the emulator until one ends."""
        up_reader, up_writer = await asyncio.open_connection(*backend)
        try:
            if first:
                up_writer.write(first)
            copies = [
                asyncio.ensure_future(_copy(reader, up_writer, quick_ack=writer.get_extra_info("socket"))),
                asyncio.ensure_future(_copy(up_reader, writer)),
            ]
            done, _pending = await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
            if copies[0] in done and not copies[1].done():
                # the client finished sending (or closed): let the answer in flight finish
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(copies[1]), 30)
            for task in copies:
                task.cancel()
            await asyncio.gather(*copies, return_exceptions=True)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter, quick_ack=None) -> None:
    """Copy until end of stream. ``quick_ack``: the client's socket, acknowledged at once after each read.

    Clients that write a request's head and body separately on a socket without TCP_NODELAY (urllib3 does
    so on proxied connections) hold the body back until the head is acknowledged; Linux delays that
    acknowledgement up to 40 ms, which would cost every such request 40 ms here.
    """
    with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
        while data := await source.read(READ_SIZE):
            if quick_ack is not None and QUICKACK is not None:
                quick_ack.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
            sink.write(data)
            await sink.drain()


def _refuse_unless_sfmc(name: str, port: int | None, default_port: int) -> None:
    host = classify(name)
    if host is None:
        raise ProxyRefusal(
            403,
            f"This proxy serves only SFMC's API host names (*.auth|rest|soap.marketingcloudapis.com, "
            f"auth.exacttargetapis.com, www.exacttargetapis.com, webservice.exacttarget.com); it does not "
            f"connect to {name}. Add that host to NO_PROXY to reach it directly.",
        )
    if port not in (None, default_port):
        raise ProxyRefusal(403, f"SFMC answers {name} on port {default_port} only, not {port}.")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
