"""The emulator as the harness sees it: a URL and its admin API, used over HTTP only.

``EmulatorClient`` wraps the ``/_emulator`` control plane (tenants, rows, journal, faults, contacts,
journey entries, async jobs). ``start_emulator`` runs ``sfmc-emulator serve`` on a free port as a
subprocess; ``ThreadedEmulator`` serves one inside this process (for the pytest plugin).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time

import requests


class EmulatorUnavailable(RuntimeError):
    """The emulator lacks an endpoint a case needs (it answered a bare 404 for the route)."""


class AdminError(RuntimeError):
    pass


class EmulatorClient:
    def __init__(self, url: str, admin_token: str | None = None, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if admin_token:
            self.session.headers["X-Emulator-Admin-Token"] = admin_token
        self.timeout = timeout

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.url}/_emulator{path}", timeout=self.timeout, **kwargs)

    def _json(self, method: str, path: str, what: str, **kwargs):
        response = self.admin(method, path, **kwargs)
        if response.status_code == 404 and _bare_not_found(response):
            generic = re.sub(r"^/tenants/[^/]+", "/tenants/{id}", path.split("?")[0])
            raise EmulatorUnavailable(f"the emulator has no {method} /_emulator{generic} ({what}) yet")
        if response.status_code >= 400:
            raise AdminError(f"{method} /_emulator{path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def health(self) -> dict:
        return self._json("GET", "/health", "liveness")

    def create_tenant(self, body: dict) -> dict:
        return self._json("POST", "/tenants", "tenants", json=body)

    def delete_tenant(self, tenant_id: str) -> None:
        self.admin("DELETE", f"/tenants/{tenant_id}")
        self.admin("DELETE", f"/faults?tenant={tenant_id}")

    def data_extensions(self, tenant_id: str) -> list[dict]:
        return self._json("GET", f"/tenants/{tenant_id}/data-extensions", "data extensions")["items"]

    def rows(self, tenant_id: str, key: str) -> list[dict] | None:
        """Every row of a DE, or None when the tenant has no such DE."""
        response = self.admin("GET", f"/tenants/{tenant_id}/data-extensions/{key}/rows", params={"page_size": 10000})
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise AdminError(f"rows of {key}: {response.status_code} {response.text[:300]}")
        return response.json()["items"]

    def items(self, tenant_id: str, what: str) -> list[dict]:
        """``contacts``, ``journey-entries`` or ``async-jobs`` of a tenant."""
        return self._json("GET", f"/tenants/{tenant_id}/{what}", what)["items"]

    def journal(self, tenant_id: str, limit: int = 100000, **pattern) -> list[dict]:
        """The tenant's journal, oldest first."""
        params = {"tenant": tenant_id, "limit": limit, **pattern}
        return list(reversed(self._json("GET", "/journal", "request journal", params=params)["items"]))

    def add_faults(self, rules: list[dict]) -> list[dict]:
        return self._json("POST", "/faults", "fault injection", json=rules) if rules else []

    def fault(self, rule_id: str) -> dict | None:
        response = self.admin("GET", f"/faults/{rule_id}")
        return response.json() if response.ok else None


def _bare_not_found(response: requests.Response) -> bool:
    try:
        return response.json().get("message") == "Not Found"
    except ValueError:
        return True


def credentials(tenant: dict, url: str) -> dict:
    """What a connector needs to reach a tenant, as the ``SFMC_*`` environment variables name them."""
    package = tenant["packages"][0]
    return {
        "SFMC_CLIENT_ID": package["client_id"],
        "SFMC_CLIENT_SECRET": package["client_secret"],
        "SFMC_SUBDOMAIN": tenant["subdomain"],
        "SFMC_ACCOUNT_ID": str(tenant["business_units"][0]["mid"]),
        "SFMC_AUTH_BASE_URL": url,
        "SFMC_REST_BASE_URL": url,
    }


class ManagedEmulator:
    """``sfmc-emulator serve --port 0 --db :memory: --no-demo --quiet`` as a child process.

    ``extra`` options come last, so they override these defaults (``--db FILE``); ``demo=True``
    loads the bundled demo tenant as a plain ``serve`` does.
    """

    def __init__(self, *extra: str, demo: bool = False):
        self.extra = extra
        self.demo = demo
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.banner: list[str] = []  # lines printed before the URL line (HTTPS listener, proxy)

    def start(self, timeout: float = 30.0) -> ManagedEmulator:
        cmd = [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--db",
            ":memory:",
            "--quiet",
            "--journal-size",
            "5000",
            *([] if self.demo else ["--no-demo"]),
            *self.extra,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"the emulator exited with status {self.proc.returncode}")
            match = re.search(r"listening on (http://\S+?)/", line)
            if not match:
                self.banner.append(line.rstrip("\n"))
            if match:
                self.url = match.group(1)
                # keep draining its output so a chatty emulator never blocks on a full pipe
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return self
        self.stop()
        raise RuntimeError("the emulator did not start in time")

    def kill(self) -> None:
        """``kill -9``: no clean shutdown (what durability tests need)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> ManagedEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ThreadedEmulator:
    """An emulator served by waitress on a free port inside this process (the pytest plugin's and the tests')."""

    def __init__(self, clock=None, *, database: str = ":memory:", journal_size: int = 5000, threads: int = 16):
        from waitress.server import create_server

        from emulator import Config
        from emulator.app import create_app

        self.clock = clock
        self.app = create_app(Config(database=database, journal_size=journal_size), clock=clock)
        self.server = create_server(self.app, host="127.0.0.1", port=0, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self._serve, name="sfmc-emulator", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the listening socket was closed by stop(): the run is over
            self.server.run()

    @property
    def emulator(self):
        return self.app.extensions["sfmc"]

    def stop(self) -> None:
        self.server.close()

    close = stop
