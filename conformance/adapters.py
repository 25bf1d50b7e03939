"""How the harness drives a connector, whatever its language.

- ``python:module:function``: called in-process as ``function(settings, events, env)``; it may
  return a result dict (``delivered``, ``rejected``, ``dropped``, ``pending``: counts or
  ``{reason: count}`` maps).
- ``cmd:<command line>``: run once per case with the events as NDJSON on stdin, the settings
  as a JSON file named by ``SFMC_SETTINGS_FILE``, and ``SFMC_AUTH_BASE_URL``,
  ``SFMC_REST_BASE_URL``, ``SFMC_CLIENT_ID``, ``SFMC_CLIENT_SECRET``, ``SFMC_SUBDOMAIN``,
  ``SFMC_ACCOUNT_ID``. Exit status 0 means done. A result dict may be written as JSON to the
  file named by ``SFMC_RESULT_FILE`` (or printed as the last line of stdout).
- ``serve:<command template>``: starts a Segment tracking-API server per case (template fields
  ``{settings_file}``, ``{port}``, ``{write_key}``), posts the events to ``/v1/batch`` and waits
  until the emulator's journal is quiet and the expectations hold (or the case times out).
- ``segment-actions:<action>[:<profile>]``: Segment's published SFMC destination, unchanged
  (``conformance/segment_actions``); its HTTP goes through the emulator's forward proxy.
- ``http://host:port``: an already running tracking-API endpoint. It was configured once, so
  every case's tenant is created with the credentials it uses (``SFMC_CLIENT_ID``,
  ``SFMC_CLIENT_SECRET``, ``SFMC_SUBDOMAIN`` of the harness's environment) and cases run one
  at a time.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shlex
import socket
import subprocess
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import requests

Settle = Callable[[float], None]  # blocks until the journal is quiet and the expectations hold, or timeout


class AdapterError(ValueError):
    pass


class Adapter:
    name = "adapter"
    fixed_credentials: dict | None = None  # tenant credentials every case must use (a pre-configured endpoint)
    serial = False  # cases must not run at the same time

    def run(self, settings: dict, events: list[dict], env: dict, settle: Settle, timeout: float) -> dict:
        raise AdapterError(f"{type(self).__name__} cannot run a connector")

    def emulator_options(self) -> list[str]:
        """``sfmc-emulator serve`` options this connector needs when the harness starts the emulator."""
        return []


class PythonAdapter(Adapter):
    def __init__(self, spec: str):
        self.name = f"python:{spec}"
        module_name, _, function_name = spec.partition(":")
        if not module_name or not function_name:
            raise AdapterError(f"'python:{spec}': use python:package.module:function")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise AdapterError(f"'python:{spec}': cannot import {module_name}: {err}") from None
        self.function = getattr(module, function_name, None)
        if not callable(self.function):
            raise AdapterError(f"'python:{spec}': {module_name} has no function {function_name}")

    def run(self, settings, events, env, settle, timeout):
        try:
            result = self.function(settings, events, env)
        except Exception as err:  # the connector's failure is a finding, not a harness crash
            return {"failed": True, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc(limit=8)}
        return dict(result or {})


def _settings_file(directory: str, settings: dict) -> str:
    path = Path(directory) / "settings.json"
    path.write_text(json.dumps(settings, indent=2), encoding="utf-8")
    return str(path)


def _last_json_line(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


class CommandAdapter(Adapter):
    def __init__(self, command: str):
        self.name = f"cmd:{command}"
        self.argv = shlex.split(command)
        if not self.argv:
            raise AdapterError("'cmd:' needs a command line, e.g. cmd:node examples/node-connector/index.js")

    def run(self, settings, events, env, settle, timeout):
        with tempfile.TemporaryDirectory(prefix="sfmc-conformance-") as tmp:
            result_file = Path(tmp) / "result.json"
            child_env = {
                **os.environ,
                **env,
                "SFMC_SETTINGS_FILE": _settings_file(tmp, settings),
                "SFMC_RESULT_FILE": str(result_file),
            }
            stdin = "".join(json.dumps(event) + "\n" for event in events)
            try:
                done = subprocess.run(
                    self.argv,
                    input=stdin,
                    capture_output=True,
                    text=True,
                    env=child_env,
                    cwd=os.getcwd(),
                    timeout=timeout,
                )
            except FileNotFoundError as err:
                return {"failed": True, "error": f"cannot start {self.argv[0]}: {err}"}
            except subprocess.TimeoutExpired:
                return {"failed": True, "error": f"still running after {timeout:g}s; stopped"}
            result = {}
            if result_file.exists():
                with contextlib.suppress(ValueError):
                    result = json.loads(result_file.read_text(encoding="utf-8"))
            result = result if isinstance(result, dict) else {}
            result = result or _last_json_line(done.stdout)
            result["exit_code"] = done.returncode
            if done.returncode != 0:
                result["failed"] = True
                result["error"] = f"exit status {done.returncode}: {done.stderr.strip()[-800:]}"
            return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post_batch(url: str, write_key: str, events: list[dict]) -> requests.Response:
    return requests.post(f"{url.rstrip('/')}/v1/batch", json={"batch": events}, auth=(write_key, ""), timeout=30)


class ServeAdapter(Adapter):
    """Start a tracking-API server per case from a command template, post the events, wait, stop it."""

    def __init__(self, template: str, write_key: str = "conformance-write-key"):
        self.name = f"serve:{template}"
        self.template = template
        self.write_key = write_key

    def run(self, settings, events, env, settle, timeout):
        with tempfile.TemporaryDirectory(prefix="sfmc-conformance-") as tmp:
            port = _free_port()
            command = self.template.format(
                settings_file=_settings_file(tmp, settings), port=port, write_key=self.write_key
            )
            log = open(Path(tmp) / "server.log", "w+", encoding="utf-8")  # noqa: SIM115 - closed below
            proc = subprocess.Popen(
                shlex.split(command),
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            )
            try:
                url = f"http://127.0.0.1:{port}"
                if not _wait_for_port(port, proc, min(timeout, 30)):
                    log.seek(0)
                    return {"failed": True, "error": f"the server never listened on {port}: {log.read()[-800:]}"}
                response = _post_batch(url, self.write_key, events)
                if not response.ok:
                    return {
                        "failed": True,
                        "error": f"POST /v1/batch answered {response.status_code}: {response.text[:300]}",
                    }
                settle(timeout)
                return {"posted": len(events)}
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                log.close()


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


class HttpAdapter(Adapter):
    """A running tracking-API endpoint, configured once with fixed SFMC credentials."""

    serial = True

    def __init__(self, url: str, write_key: str | None, environ: dict | None = None):
        environ = os.environ if environ is None else environ
        self.name = url
        self.url = url
        self.write_key = write_key or environ.get("SEGMENT_WRITE_KEY") or ""
        missing = [v for v in ("SFMC_CLIENT_ID", "SFMC_CLIENT_SECRET") if not environ.get(v)]
        if missing:
            raise AdapterError(
                f"{url}: a running endpoint uses fixed SFMC credentials; set {', '.join(missing)} "
                "to the client id and secret it was configured with (and SFMC_SUBDOMAIN)"
            )
        self.fixed_credentials = {
            "client_id": environ["SFMC_CLIENT_ID"],
            "client_secret": environ["SFMC_CLIENT_SECRET"],
            "subdomain": environ.get("SFMC_SUBDOMAIN") or None,
        }
        self._lock = threading.Lock()

    def run(self, settings, events, env, settle, timeout):
        with self._lock:
            response = _post_batch(self.url, self.write_key, events)
            if not response.ok:
                return {
                    "failed": True,
                    "error": f"POST /v1/batch answered {response.status_code}: {response.text[:300]}",
                }
            settle(timeout)
            return {"posted": len(events)}
