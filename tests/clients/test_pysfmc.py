"""pysfmc (PyPI, pinned in the test extra), unmodified: its auth host is hard-coded, so only the proxy and
CA variables point it at the emulator (httpx reads HTTPS_PROXY and SSL_CERT_FILE when a client is made)."""

from __future__ import annotations

import pytest
from pysfmc import SFMCClient
from pysfmc.auth import SFMCSettings
from pysfmc.exceptions import SFMCNotFoundError


@pytest.fixture
def pysfmc_client(client_tenant, monkeypatch):
    for name in ("ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in client_tenant.env.items():
        monkeypatch.setenv(name, value)
    settings = SFMCSettings(
        client_id=client_tenant.client_id,
        client_secret=client_tenant.client_secret,
        account_id=str(client_tenant.mid),
        subdomain=client_tenant.subdomain,
    )
    with SFMCClient(settings, timeout=30) as client:
        yield client


def test_pysfmc_token_rows_and_a_contact(client_tenant, pysfmc_client):
    sub = client_tenant.subdomain
    written = pysfmc_client.post(
        "/hub/v1/dataevents/key:identify/rowset",
        json=[{"keys": {"Contact Key": "py-1"}, "values": {"Email": "py@example.com"}}],
    )
    assert written[0]["keys"] == {"Contact Key": "py-1"}
    read = pysfmc_client.get("/data/v1/customobjectdata/key/identify/rowset")
    assert read["count"] == 1
    contact = pysfmc_client.post("/contacts/v1/contacts", json={"contactKey": "py-1", "attributeSets": []})
    assert contact["operationStatus"] == "OK"
    assert [r["Contact Key"] for r in client_tenant.rows("identify")] == ["py-1"]
    calls = [(e["host"], e["path"]) for e in reversed(client_tenant.journal())]
    assert calls[0] == (f"{sub}.auth.marketingcloudapis.com", "/v2/token")
    assert {host for host, _ in calls[1:]} == {f"{sub}.rest.marketingcloudapis.com"}


def test_pysfmc_sees_sfmc_errors_through_the_proxy(client_tenant, pysfmc_client):
    with pytest.raises(SFMCNotFoundError) as caught:
        pysfmc_client.post("/hub/v1/dataevents/key:no-such-de/rowset", json=[{"keys": {"A": "1"}}])
    assert caught.value.response.json()["errorcode"] == 30003
