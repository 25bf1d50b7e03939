"""The control plane is safe to leave running: same-site callers only, a warning when it is exposed."""

from __future__ import annotations

import pytest

from emulator.cli import exposure_warning


def test_same_site_json_calls_and_plain_clients_keep_working(client, tenant):
    same_origin = {"Origin": "http://localhost"}  # the test client's host: the inspector's own origin
    assert client.post(f"/_emulator/tenants/{tenant.id}/reset", headers=same_origin, json={}).status_code == 200
    assert client.post("/_emulator/clock", json={"advance": 1}).status_code == 200  # no Origin: curl, SDKs
    assert client.delete("/_emulator/journal").status_code == 200
    assert client.post("/_emulator/scenarios", data="tenants: []\n", content_type="application/yaml").status_code == 201


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_cross_site_calls_are_refused_before_anything_changes(client, tenant, headers):
    response = client.delete(f"/_emulator/tenants/{tenant.id}", headers=headers)
    assert response.status_code == 403 and "another site" in response.get_json()["message"]
    assert client.get(f"/_emulator/tenants/{tenant.id}").status_code == 200


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"])
def test_bodies_an_html_form_can_send_are_refused(client, tenant, content_type):
    response = client.post("/_emulator/reset", data="x=1", content_type=content_type)
    assert response.status_code == 403 and "HTML form" in response.get_json()["message"]
    assert tenant.rowset("identify", [{"keys": {"Contact Key": "u"}, "values": {"Age": 1}}]).status_code == 200


@pytest.mark.parametrize(
    "host,token,warned",
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("0.0.0.0", None, True),
        ("192.168.1.10", None, True),
        ("emulator.internal", None, True),
        ("0.0.0.0", "s3cret", False),
    ],
)
def test_serving_off_loopback_without_an_admin_token_warns(host, token, warned):
    warning = exposure_warning(host, token)
    assert (warning is not None) == warned
    if warned:
        assert "--admin-token" in warning and host in warning
