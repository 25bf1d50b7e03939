"""The ``sfmc`` pytest plugin's fixtures, as a connector author would use them in their own tests."""

from __future__ import annotations

import pytest
import requests

IDENTIFY = {
    "key": "identify",
    "name": "Identify",
    "fields": [{"name": "Contact Key", "type": "Text", "isPrimaryKey": True}, {"name": "First Name", "type": "Text"}],
}


@pytest.mark.sfmc_tenant(data_extensions=[IDENTIFY], settings={"rate_limit": 0})
def test_sfmc_tenant_gives_credentials_that_work(sfmc_tenant):
    env = sfmc_tenant.env
    token = requests.post(
        f"{env['SFMC_AUTH_BASE_URL']}/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": env["SFMC_CLIENT_ID"],
            "client_secret": env["SFMC_CLIENT_SECRET"],
        },
        timeout=10,
    ).json()["access_token"]
    response = requests.post(
        f"{env['SFMC_REST_BASE_URL']}/hub/v1/dataevents/key:identify/rowset",
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
        json=[{"keys": {"Contact Key": "u1"}, "values": {"First Name": "Ann"}}],
    )
    assert response.status_code == 200
    assert sfmc_tenant.rows("identify") == [{"Contact Key": "u1", "First Name": "Ann"}]
    assert [e["path"] for e in sfmc_tenant.journal()] == ["/v2/token", "/hub/v1/dataevents/key:identify/rowset"]
    assert len(sfmc_tenant.subdomain) == 28


def test_each_test_gets_its_own_tenant(sfmc_emulator, sfmc_tenant):
    other = sfmc_emulator.create_tenant()
    assert other.id != sfmc_tenant.id and other.client_id != sfmc_tenant.client_id
    sfmc_emulator.client.delete_tenant(other.id)


def test_sfmc_run_case_runs_a_library_case(sfmc_run_case):
    result = sfmc_run_case("tr-4-same-primary-key-latest-values", "python:conformance.bundled:run")
    assert result.status == "passed", [f.message for f in result.failures]
