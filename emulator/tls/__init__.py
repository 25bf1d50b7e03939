"""SFMC's own host names over HTTPS: a local CA (``ca.py``), an HTTPS listener and a forward proxy
(``front.py``), and the ``serve`` wiring below that puts them in front of the emulator's WSGI app.

Shell set-up for clients (``sfmc-emulator env``) is built here too, so the CLI and the docs agree.
"""

from __future__ import annotations

import threading

from .ca import LocalCA, default_ca_dir, ensure_ca
from .front import Backends, FrontDoor

__all__ = ["Backends", "FrontDoor", "LocalCA", "default_ca_dir", "ensure_ca", "env_lines", "start_front_door"]


def start_front_door(
    app,
    ca: LocalCA,
    *,
    host: str,
    plain_port: int,
    tls_port: int | None,
    proxy_port: int | None,
    threads: int,
    connection_limit: int,
) -> FrontDoor:
    """An HTTPS-scheme waitress listener on loopback for decrypted traffic, and the front door feeding it."""
    from ..waitress_server import create_server

    https_backend = create_server(
        app,
        host="127.0.0.1",
        port=0,
        threads=threads,
        connection_limit=connection_limit,
        url_scheme="https",
        ident="sfmc-emulator",
    )
    threading.Thread(target=https_backend.run, name="sfmc-https-backend", daemon=True).start()
    backends = Backends(http=("127.0.0.1", plain_port), https=("127.0.0.1", https_backend.effective_port))
    return FrontDoor(backends, ca.server_context(), host=host, tls_port=tls_port, proxy_port=proxy_port).start()


def env_lines(ca: LocalCA, proxy_url: str | None, shell: str = "sh") -> list[str]:
    """Shell exports that point Python, Node and curl at the emulator through its proxy."""
    values: list[tuple[str, str, str]] = []
    if proxy_url:
        values += [
            ("HTTPS_PROXY", proxy_url, "requests, httpx, urllib, curl, Node's request and axios"),
            ("https_proxy", proxy_url, "curl and others that read only the lower-case name"),
            ("HTTP_PROXY", proxy_url, ""),
            ("http_proxy", proxy_url, ""),
            ("NO_PROXY", "127.0.0.1,localhost", "the emulator's own address (control plane) stays direct"),
            ("no_proxy", "127.0.0.1,localhost", ""),
        ]
    values += [
        ("SSL_CERT_FILE", str(ca.bundle_path), "httpx, urllib, ssl: system authorities plus the local CA"),
        ("REQUESTS_CA_BUNDLE", str(ca.bundle_path), "requests"),
        ("CURL_CA_BUNDLE", str(ca.bundle_path), "curl"),
        ("NODE_EXTRA_CA_CERTS", str(ca.cert_path), "Node: added to its built-in authorities at start"),
    ]
    if proxy_url:
        values.append(("NODE_USE_ENV_PROXY", "1", "Node 22.21+/24.5+ built-in https/fetch; Node 20 ignores it"))
    lines = []
    for name, value, note in values:
        comment = f"  # {note}" if note else ""
        if shell == "fish":
            lines.append(f"set -gx {name} '{value}';{comment}")
        elif shell == "powershell":
            lines.append(f"$env:{name} = '{value}'{comment}")
        else:
            lines.append(f"export {name}='{value}'{comment}")
    return lines
