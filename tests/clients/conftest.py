"""Real SFMC clients, unmodified, against a served emulator reached only through its proxy mode.

Each client is pointed at the emulator by the environment ``sfmc-emulator env`` prints (proxy and CA),
exactly as docs/real-clients.md tells a user; nothing of theirs is patched and no /etc/hosts entry is made.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

import pytest
import requests

from emulator.launcher import ServerProcess, start_emulator

IDENTIFY = {
    "key": "identify",
    "name": "Identify",
    "fields": [
        {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
        {"name": "Email", "type": "EmailAddress"},
    ],
}
EVENTS = {
    "key": "sdk-events",
    "name": "SDK Events",
    "fields": [
        {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
        {"name": "Plan", "type": "Text"},
    ],
}


@dataclass
class ClientTenant:
    server: ServerProcess
    id: str
    subdomain: str
    client_id: str
    client_secret: str
    mid: int
    env: dict[str, str]

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.server.url}/_emulator{path}", timeout=30, **kwargs)

    def rows(self, key: str) -> list[dict]:
        return self.admin("GET", f"/tenants/{self.id}/data-extensions/{key}/rows").json()["items"]

    def journal(self, **query) -> list[dict]:
        return self.admin("GET", "/journal", params={"tenant": self.id, "limit": 1000, **query}).json()["items"]


@pytest.fixture(scope="session")
def proxied_emulator(tmp_path_factory):
    ca_dir = tmp_path_factory.mktemp("client-ca")
    server = start_emulator("--proxy-port", "0", "--ca-dir", str(ca_dir))
    port = re.search(r"proxy on http://[^:]+:(\d+)/", "\n".join(server.banner)).group(1)
    exports = subprocess.run(
        [sys.executable, "-m", "emulator", "env", "--ca-dir", str(ca_dir), "--proxy-port", port],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    server.client_env = {}
    for line in exports.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        server.client_env[name] = shlex.split(value, comments=True)[0]
    yield server
    server.stop()


@pytest.fixture
def client_tenant(proxied_emulator) -> ClientTenant:
    """A fresh tenant (no throttling, immediate async pickup) and the environment pointing clients at it."""
    answer = requests.post(
        f"{proxied_emulator.url}/_emulator/tenants",
        json={
            "settings": {"rate_limit": 0, "async_pickup_delay": 0},
            "data_extensions": [IDENTIFY, EVENTS],
            "event_definitions": [{"key": "APIEvent-sdk", "name": "SDK Journey", "data_extension": "sdk-events"}],
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    package = body["packages"][0]
    return ClientTenant(
        proxied_emulator,
        body["id"],
        body["subdomain"],
        package["client_id"],
        package["client_secret"],
        body["business_units"][0]["mid"],
        dict(proxied_emulator.client_env),
    )
