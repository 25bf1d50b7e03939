"""One emulator per test process (a waitress thread), shared by the conformance tests; every case
creates and deletes its own tenant, so tests stay isolated under pytest-xdist."""

from __future__ import annotations

import pytest

from conformance.service import EmulatorClient
from emulator.launcher import ThreadedEmulator


@pytest.fixture(scope="session")
def conformance_emulator():
    server = ThreadedEmulator()
    yield EmulatorClient(server.url)
    server.stop()
