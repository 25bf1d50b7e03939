"""What every benchmark and scenario shares: server processes on free ports, tenants, tokens, rows.

Servers are started by ``emulator.launcher`` and bind to 127.0.0.1 only. Every process started
here is stopped by its context manager, so a failed run never leaves a server behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from emulator import launcher
from emulator.launcher import ServerProcess, start_process

REPO = Path(__file__).resolve().parent.parent

# The benchmark Data Extension: ten columns of the types a Segment identify sends.
FIELDS = [
    {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
    {"name": "Email", "type": "EmailAddress"},
    {"name": "First Name", "type": "Text", "length": 100},
    {"name": "Last Name", "type": "Text", "length": 100},
    {"name": "Plan", "type": "Text"},
    {"name": "Created At", "type": "Date"},
    {"name": "Age", "type": "Number"},
    {"name": "City", "type": "Text"},
    {"name": "Country", "type": "Text"},
    {"name": "Opted In", "type": "Boolean"},
]
DE_KEY = "loadtest-identify"


def row(key: str, i: int = 0) -> dict:
    """One ``{keys, values}`` item filling all ten columns."""
    return {
        "keys": {"Contact Key": key},
        "values": {
            "Email": f"user{i}@example.com",
            "First Name": "Ann",
            "Last Name": "Lee",
            "Plan": "pro",
            "Created At": "2020-05-30T13:30:00+00:00",
            "Age": 30 + i % 50,
            "City": "Paris",
            "Country": "FR",
            "Opted In": i % 2 == 0,
        },
    }


def child_env(**extra: object) -> dict[str, str]:
    """Environment for child processes: unbuffered, the repo importable, plus ``extra`` as strings."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def start_emulator(workdir: Path, *args: str, threads: int = 8) -> ServerProcess:
    """The launcher's ``sfmc-emulator serve`` with the load tests' defaults: a database file in ``workdir``,
    ``threads`` worker threads and serve's own journal size (``args`` may override them)."""
    database = str(workdir / "emulator.sqlite3")
    return launcher.start_emulator(
        *args, database=database, threads=threads, journal_size=None, env=child_env(), cwd=REPO
    )


def start_bare(threads: int = 8, cpu: str | None = None) -> ServerProcess:
    """The bare Flask echo endpoint (``loadtests.bare``), served by waitress like the emulator (on one CPU with
    ``cpu``, as ``serve --cpu``)."""
    cmd = [sys.executable, "-m", "loadtests.bare", "--port", "0", "--threads", str(threads)]
    if cpu is not None:
        cmd += ["--cpu", cpu]
    return start_process(cmd, name="bare-flask", health="/health", env=child_env(), cwd=REPO)


def start_connector(settings_path: Path, write_key: str, interval: float = 0.2) -> ServerProcess:
    """``sfmc-connector serve`` (Segment's tracking API) on a free port of 127.0.0.1.

    ``SFMC_*`` variables of the calling shell are left out: they would override the settings file
    and point the connector at another account than the run's tenant.
    """
    cmd = [
        sys.executable,
        "-m",
        "connector",
        "serve",
        "--settings",
        str(settings_path),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--write-key",
        write_key,
        "--interval",
        str(interval),
    ]
    env = {k: v for k, v in child_env().items() if not k.startswith("SFMC_")}
    return start_process(cmd, name="sfmc-connector", health="/health", env=env, cwd=REPO)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``): a server's own work,
    whatever else the machine runs beside it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU time of each thread of a process so far, by thread id (the main thread's id is the
    process id: waitress's I/O loop; its worker threads are the others)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def split_thread_cpu(pid: int, before: dict[int, float], after: dict[int, float]) -> tuple[float, float]:
    """CPU seconds between two ``thread_cpu_seconds`` snapshots: (the main thread, all the others)."""
    spent = {tid: seconds - before.get(tid, 0.0) for tid, seconds in after.items()}
    main = spent.pop(pid, 0.0)
    return main, sum(spent.values())


@contextmanager
def running(*servers: ServerProcess) -> Iterator[tuple[ServerProcess, ...]]:
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def ensure_tenant(
    host: str,
    tenant_id: str,
    settings: dict,
    data_extensions: list[dict] | None = None,
    event_definitions: list[dict] | None = None,
) -> dict:
    """Create a tenant through the admin API, or fetch it when another process already did.

    Distributed workers all run ``test_start``; one creates the tenant, the others read it, so a
    per-tenant limit stays one limit however many processes offer the load.
    """
    body: dict = {
        "id": tenant_id,
        "settings": settings,
        "data_extensions": data_extensions
        if data_extensions is not None
        else [{"key": DE_KEY, "name": "Loadtest Identify", "fields": FIELDS}],
    }
    if event_definitions:
        body["event_definitions"] = event_definitions
    response = requests.post(f"{host}/_emulator/tenants", json=body, timeout=30)
    if response.status_code == 201:
        return response.json()
    existing = requests.get(f"{host}/_emulator/tenants/{tenant_id}", timeout=30)
    if existing.status_code == 200:
        return existing.json()
    if event_definitions:
        # an emulator without Journey Builder events refuses the definitions: the tenant still serves the rest
        return ensure_tenant(host, tenant_id, settings, data_extensions)
    raise RuntimeError(f"cannot create tenant {tenant_id}: {response.status_code} {response.text[:500]}")


def credentials(tenant: dict) -> tuple[str, str]:
    package = tenant["packages"][0]
    return package["client_id"], package["client_secret"]


def get_token(host: str, client_id: str, client_secret: str) -> str:
    response = requests.post(
        f"{host}/v2/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default
