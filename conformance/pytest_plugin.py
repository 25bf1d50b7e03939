"""pytest fixtures for testing an SFMC connector against the emulator (registered as the ``sfmc`` plugin).

- ``sfmc_emulator`` (session): a live emulator on a free port, served inside the test process, or
  the one at ``--sfmc-emulator URL`` / ``SFMC_EMULATOR_URL``. ``.url``, ``.client`` (admin API).
- ``sfmc_tenant`` (function): an isolated tenant with its own credentials, deleted afterwards.
  Shape it with ``@pytest.mark.sfmc_tenant(data_extensions=[...], settings={...})``.
- ``sfmc_run_case``: run a bundled (or your own) conformance case against a connector spec and get
  its ``CaseResult``, to put the suite in your own test run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from .service import EmulatorClient


def pytest_addoption(parser):
    group = parser.getgroup("sfmc", "SFMC emulator")
    group.addoption(
        "--sfmc-emulator",
        default=os.environ.get("SFMC_EMULATOR_URL"),
        help="Use this running emulator for the sfmc_* fixtures instead of starting one.",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "sfmc_tenant(**body): the tenant the sfmc_tenant fixture creates "
        "(data_extensions, event_definitions, settings, packages, business_units)",
    )


@dataclass
class SfmcEmulator:
    url: str
    client: EmulatorClient

    def create_tenant(self, **body) -> SfmcTenant:
        return SfmcTenant(self, self.client.create_tenant(body))


@dataclass
class SfmcTenant:
    """A tenant created for one test: credentials, what a connector needs, and what SFMC holds."""

    emulator: SfmcEmulator
    raw: dict

    @property
    def id(self) -> str:
        return self.raw["id"]

    @property
    def client_id(self) -> str:
        return self.raw["packages"][0]["client_id"]

    @property
    def client_secret(self) -> str:
        return self.raw["packages"][0]["client_secret"]

    @property
    def subdomain(self) -> str:
        return self.raw["subdomain"]

    @property
    def mids(self) -> list[int]:
        return [bu["mid"] for bu in self.raw["business_units"]]

    @property
    def env(self) -> dict[str, str]:
        """``SFMC_*`` variables pointing a connector at this tenant."""
        return {
            "SFMC_CLIENT_ID": self.client_id,
            "SFMC_CLIENT_SECRET": self.client_secret,
            "SFMC_SUBDOMAIN": self.subdomain,
            "SFMC_ACCOUNT_ID": str(self.mids[0]),
            "SFMC_AUTH_BASE_URL": self.emulator.url,
            "SFMC_REST_BASE_URL": self.emulator.url,
        }

    def rows(self, de_key: str) -> list[dict] | None:
        return self.emulator.client.rows(self.id, de_key)

    def contacts(self) -> list[dict]:
        return self.emulator.client.items(self.id, "contacts")

    def journey_entries(self) -> list[dict]:
        return self.emulator.client.items(self.id, "journey-entries")

    def journal(self, **pattern) -> list[dict]:
        """The tenant's SFMC calls, oldest first; ``pattern`` as the journal API takes it."""
        return self.emulator.client.journal(self.id, **pattern)

    def fault(self, **rule) -> dict:
        return self.emulator.client.add_faults([{**rule, "tenant": self.id}])[0]

    def update_settings(self, **changes) -> dict:
        response = self.emulator.client.admin("PATCH", f"/tenants/{self.id}/settings", json=changes)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def sfmc_emulator(request):
    url = request.config.getoption("--sfmc-emulator")
    if url:
        yield SfmcEmulator(url.rstrip("/"), EmulatorClient(url))
        return
    from emulator.launcher import ThreadedEmulator

    server = ThreadedEmulator()
    try:
        yield SfmcEmulator(server.url, EmulatorClient(server.url))
    finally:
        server.stop()


@pytest.fixture
def sfmc_tenant(sfmc_emulator, request):
    marker = request.node.get_closest_marker("sfmc_tenant")
    tenant = sfmc_emulator.create_tenant(**(marker.kwargs if marker else {}))
    yield tenant
    sfmc_emulator.client.delete_tenant(tenant.id)


@pytest.fixture
def sfmc_run_case(sfmc_emulator):
    """``sfmc_run_case(case_id, connector_spec, cases_dir=None, profile=None)`` → CaseResult."""
    from .cases import load_cases
    from .connectors import make_adapter
    from .runner import load_profile, run_case

    def run(case_id: str, connector: str, cases_dir: str | None = None, profile: str | None = None):
        [case] = [c for c in load_cases(cases_dir) if c.id == case_id]
        return run_case(case, make_adapter(connector), sfmc_emulator.client, load_profile(profile) if profile else None)

    return run
