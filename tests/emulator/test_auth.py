"""OAuth2 v2 and legacy v1 tokens, bearer checks, scopes and tenant isolation (AUTH-1..3)."""

from __future__ import annotations

import pytest


def test_v2_token_json_body_has_sfmc_shape(tenant, client):
    response = client.post(
        "/v2/token",
        json={"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": tenant.client_secret},
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1079  # tokens live 20 minutes; SFMC reports 1079 s (docs/fidelity.md, AUTH-1)
    assert body["rest_instance_url"] == "http://localhost/"
    assert body["soap_instance_url"] == "http://localhost/"
    assert "data_extensions_write" in body["scope"].split()


def test_v2_token_form_body_and_stale_authorization_header_ignored(tenant, client):
    response = client.post(
        "/v2/token",
        data={"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": tenant.client_secret},
        headers={"Authorization": "Bearer some-stale-token"},
    )
    assert response.status_code == 200
    assert response.get_json()["access_token"]


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_bad_credentials_are_invalid_client(tenant, client, secret):
    response = client.post(
        "/v2/token", json={"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": secret}
    )
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "invalid_client"
    assert "client ID and client secret" in body["error_description"]
    assert body["error_uri"]


def test_unknown_client_is_invalid_client(client):
    response = client.post(
        "/v2/token", json={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_wrong_grant_type(tenant, client):
    response = client.post(
        "/v2/token",
        json={"grant_type": "password", "client_id": tenant.client_id, "client_secret": tenant.client_secret},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
def test_unreadable_token_body_is_invalid_request(client, body):
    response = client.post("/v2/token", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_account_id_selects_a_business_unit(tenant_factory, client):
    tenant = tenant_factory(business_units=[{"mid": 111}, {"mid": 222}])
    for mid in (222, "222"):
        response = client.post(
            "/v2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": tenant.client_id,
                "client_secret": tenant.client_secret,
                "account_id": mid,
            },
        )
        assert response.status_code == 200
    response = client.post(
        "/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "account_id": 333,
        },
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized_client"


def test_scope_narrowing_limits_what_the_token_may_do(tenant, client):
    tenant.get_token(scope="data_extensions_read")
    read = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset")
    assert read.status_code == 200
    write = tenant.rowset("identify", [{"keys": {"Contact Key": "a"}, "values": {}}])
    assert write.status_code == 403
    assert write.get_json()["errorcode"] == 20002
    assert tenant.rows("identify") == []


def test_scope_outside_the_package_is_refused(tenant, client):
    response = client.post(
        "/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": "journeys_delete",
        },
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"
    assert "journeys_delete" in response.get_json()["error_description"]


def test_package_without_permission_gets_insufficient_privileges(tenant_factory):
    """AUTH-1: a package without the Data Extensions permission sees 403 errorcode 20002."""
    tenant = tenant_factory(packages=[{"scopes": ["data_extensions_read"]}])
    response = tenant.rowset("identify", [{"keys": {"Contact Key": "a"}, "values": {}}])
    assert response.status_code == 403
    assert response.get_json()["errorcode"] == 20002


def test_legacy_v1_request_token(tenant, client):
    response = client.post(
        "/v1/requestToken", json={"clientId": tenant.client_id, "clientSecret": tenant.client_secret}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["expiresIn"] == 3479 and "legacyToken" not in body
    use = client.get(
        "/data/v1/customobjectdata/key/identify/rowset", headers={"Authorization": f"Bearer {body['accessToken']}"}
    )
    assert use.status_code == 200
    legacy = client.post(
        "/v1/requestToken?legacy=1", json={"clientId": tenant.client_id, "clientSecret": tenant.client_secret}
    )
    assert legacy.get_json()["legacyToken"]
    bad = client.post("/v1/requestToken", json={"clientId": tenant.client_id, "clientSecret": "nope"})
    assert bad.status_code == 401 and bad.get_json()["errorcode"] == 0


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer unknown-token", "Basic abc", "bearer "])
def test_missing_or_unknown_token_is_401_errorcode_0(tenant, client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/data/v1/customobjectdata/key/identify/rowset", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["errorcode"] == 0
    assert response.get_json()["message"] == "Not Authorized"
    assert "WWW-Authenticate" not in response.headers


def test_expired_token_adds_www_authenticate(tenant, client):
    tenant.get_token()
    client.post("/_emulator/clock", json={"advance": 1201})
    response = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset")
    assert response.status_code == 401
    assert response.get_json()["errorcode"] == 0
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "expired" in response.headers["WWW-Authenticate"]


def test_token_lifetime_is_a_tenant_setting(tenant, client):
    tenant.settings(token_lifetime=60)
    tenant.get_token()
    client.post("/_emulator/clock", json={"advance": 59})
    assert tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset").status_code == 200
    client.post("/_emulator/clock", json={"advance": 2})
    assert tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset").status_code == 401


def test_tenants_never_see_each_other(tenant_factory):
    a = tenant_factory()
    b = tenant_factory(
        data_extensions=[
            {
                "key": "only-b",
                "name": "Only B",
                "fields": [{"name": "Contact Key", "type": "Text", "isPrimaryKey": True}],
            }
        ]
    )
    b_de = b.call("GET", "/data/v1/customobjects/key:only-b").get_json()
    missing_for_a = a.call("GET", "/data/v1/customobjects/key:never-existed")
    for path in ("/data/v1/customobjects/key:only-b", f"/data/v1/customobjects/{b_de['id']}"):
        response = a.call("GET", path)
        assert response.status_code == missing_for_a.status_code == 404
    # same answer for B's key as for a key nobody has, apart from the name in the message
    foreign = a.rowset("only-b", [{"keys": {"Contact Key": "x"}, "values": {}}])
    nowhere = a.rowset("nowhere", [{"keys": {"Contact Key": "x"}, "values": {}}])
    assert foreign.status_code == nowhere.status_code == 404
    assert foreign.get_json()["errorcode"] == nowhere.get_json()["errorcode"] == 30003
    assert b.rows("only-b") == []


def test_a_token_in_use_is_checked_again_on_every_call(tenant, client, clock):
    """The caller behind a token is kept after its first use; expiry, revocation rules, a reset and the
    tenant's deletion still refuse it at the next call."""
    path = "/data/v1/customobjectdata/key/identify/rowset"
    clock.freeze()
    tenant.settings(token_lifetime=60)
    tenant.get_token()
    assert tenant.call("GET", path).status_code == 200
    clock.advance(61)
    assert "expired" in tenant.call("GET", path).headers["WWW-Authenticate"]

    tenant.get_token()
    assert tenant.call("GET", path).status_code == 200
    clock.advance(1)
    rule = client.post("/_emulator/faults", json={"kind": "revoke_tokens", "tenant": tenant.id}).get_json()
    assert tenant.call("GET", path).status_code == 401
    assert client.delete(f"/_emulator/faults/{rule['id']}").status_code == 200
    assert tenant.call("GET", path).status_code == 200  # the rule is gone: the token works again

    assert client.post(f"/_emulator/tenants/{tenant.id}/reset").status_code == 200
    assert tenant.call("GET", path).status_code == 401  # a reset drops the tenant's tokens
    tenant.get_token()
    assert tenant.call("GET", path).status_code == 200
    assert client.delete(f"/_emulator/tenants/{tenant.id}").status_code in (200, 204)
    assert tenant.call("GET", path).status_code == 401
