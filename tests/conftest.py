"""Shared fixtures: every test gets its own emulator and its own tenant.

The emulator's store is a ``:memory:`` SQLite database, or, with ``SFMC_TEST_STORE=postgresql``,
a fresh schema in a throw-away PostgreSQL cluster (one per test process, see ``pg_cluster``).
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import pytest
import requests
from hypothesis import HealthCheck, settings

from conformance.pgcluster import PostgresCluster
from emulator import Config, launcher
from emulator.app import create_app
from emulator.clock import Clock
from emulator.domain.tenants import TenantSettings
from emulator.launcher import ServerProcess, start_emulator
from emulator.store.postgres import close_all
from tests.fixtures import IDENTIFY_DE

# Property tests on a loaded 2-core machine: no wall-clock limits (deadline, too_slow), so a slow
# moment never fails a run. "ci" (set by .ci/run) also fixes the examples and bounds their number,
# so CI runs the same cases every time; "dev" (the default) keeps exploring new ones.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

TEST_STORE = os.environ.get("SFMC_TEST_STORE", "sqlite")
if TEST_STORE not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"SFMC_TEST_STORE must be sqlite or postgresql, not {TEST_STORE!r}")


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server for this test process, thrown away at the end (Debian's binaries)."""
    cluster = PostgresCluster().start()
    yield cluster
    gc.collect()  # emulators no test holds any more end their background threads
    close_all()  # the rest stop cleanly before the server goes, instead of failing against it
    cluster.stop()


@pytest.fixture
def database(request) -> str:
    """Where this test's emulator keeps its state: ``:memory:``, or a fresh PostgreSQL schema."""
    if TEST_STORE == "postgresql":
        return request.getfixturevalue("pg_cluster").create_schema()
    return ":memory:"


@pytest.fixture
def clock() -> Clock:
    return Clock()


# Tests of other rules post short Data Extension definitions; SFMC's demand for complete ones
# (categoryId, every field flag) is checked in tests/emulator/test_fidelity.py on default settings.
LENIENT_DEFINITIONS = TenantSettings(require_complete_definitions=False)


@pytest.fixture
def app(clock, database):
    app = create_app(Config(database=database, default_settings=LENIENT_DEFINITIONS), clock=clock)
    yield app
    app.extensions["sfmc"].async_rows.stop()
    app.extensions["sfmc"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class Tenant:
    """A tenant created through the admin API, with a client that speaks SFMC's REST API."""

    client: object
    id: str
    client_id: str
    client_secret: str
    mids: list[int]
    token: str = ""

    def get_token(self, **extra) -> str:
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            **extra,
        }
        response = self.client.post("/v2/token", json=body)
        assert response.status_code == 200, response.get_json()
        self.token = response.get_json()["access_token"]
        return self.token

    def headers(self) -> dict:
        if not self.token:
            self.get_token()
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs):
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def rowset(self, key: str, rows: list):
        return self.call("POST", f"/hub/v1/dataevents/key:{key}/rowset", json=rows)

    def rows(self, key: str) -> list[dict]:
        response = self.client.get(f"/_emulator/tenants/{self.id}/data-extensions/{key}/rows?page_size=10000")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["items"]

    def settings(self, **changes):
        response = self.client.patch(f"/_emulator/tenants/{self.id}/settings", json=changes)
        assert response.status_code == 200, response.get_json()


def make_tenant(client, **body) -> Tenant:
    body.setdefault("settings", {"rate_limit": 0})
    body.setdefault("data_extensions", [IDENTIFY_DE])
    response = client.post("/_emulator/tenants", json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    package = created["packages"][0]
    return Tenant(
        client,
        created["id"],
        package["client_id"],
        package["client_secret"],
        [bu["mid"] for bu in created["business_units"]],
    )


@pytest.fixture
def tenant(client) -> Tenant:
    """An isolated tenant with throttling off and one Identify-style Data Extension ``identify``."""
    return make_tenant(client)


@pytest.fixture
def tenant_factory(client):
    return lambda **body: make_tenant(client, **body)


# -- a real server process, for what only a real process shows (restart, kill, the CLI) ------------


@pytest.fixture
def live_server_factory():
    servers: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        """A ``sfmc-emulator serve`` process with the demo tenant; ``args`` as on its command line."""
        server = start_emulator(*args, demo=True)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- an emulator on a real socket inside the test process: real HTTP, and the test can move its clock --


class ThreadedEmulator(launcher.ThreadedEmulator):
    """The launcher's in-process emulator, with the admin shortcuts these tests use."""

    def __init__(self, clock: Clock, database: str = ":memory:"):
        super().__init__(clock, database=database, journal_size=Config().journal_size, threads=8)

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/_emulator{path}", timeout=30, **kwargs)

    def create_tenant(self, **body) -> dict:
        response = self.admin("POST", "/tenants", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def rows(self, tenant_id: str, key: str) -> list[dict]:
        response = self.admin("GET", f"/tenants/{tenant_id}/data-extensions/{key}/rows", params={"page_size": 10000})
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture
def emulator_server(clock, database):
    server = ThreadedEmulator(clock, database)
    yield server
    server.close()
