"""Host routing: SFMC's host names select the tenant and the routes; requests by address keep one port for all."""

from __future__ import annotations

import pytest

from emulator.app import create_app
from emulator.core import Config
from emulator.domain.hosts import classify, split_port
from tests.conftest import make_tenant
from tests.emulator.soap_helpers import envelope, retrieve, retrieved

ROW = [{"keys": {"Contact Key": "c1"}, "values": {"Email": "a@example.com"}}]


def subdomain_of(tenant) -> str:
    return tenant.client.get(f"/_emulator/tenants/{tenant.id}").get_json()["subdomain"]


def token_by_name(tenant, sub: str, **extra):
    body = {"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": tenant.client_secret}
    return tenant.client.post(
        "/v2/token", json={**body, **extra}, headers={"Host": f"{sub}.auth.marketingcloudapis.com"}
    )


def test_token_by_name_gives_sfmc_instance_urls_and_the_rest_host_lands_a_row(tenant):
    sub = subdomain_of(tenant)
    answer = token_by_name(tenant, sub)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["rest_instance_url"] == f"https://{sub}.rest.marketingcloudapis.com/"
    assert body["soap_instance_url"] == f"https://{sub}.soap.marketingcloudapis.com/"
    written = tenant.client.post(
        "/hub/v1/dataevents/key:identify/rowset",
        json=ROW,
        headers={"Host": f"{sub}.rest.marketingcloudapis.com", "Authorization": f"Bearer {body['access_token']}"},
    )
    assert written.status_code == 200, written.get_json()
    assert [r["Contact Key"] for r in tenant.rows("identify")] == ["c1"]


def test_by_address_keeps_one_port_and_its_own_base(tenant):
    body = tenant.client.post(
        "/v2/token",
        json={"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": tenant.client_secret},
        base_url="http://127.0.0.1:9999",
    ).get_json()
    assert body["rest_instance_url"] == "http://127.0.0.1:9999/"
    assert tenant.rowset("identify", ROW).status_code == 200
    assert tenant.client.get("/_emulator/health").status_code == 200


@pytest.mark.parametrize(
    ("kind", "method", "path"),
    [
        ("auth", "POST", "/hub/v1/dataevents/key:identify/rowset"),  # REST route on the auth host
        ("auth", "GET", "/_emulator/tenants"),  # the control plane is reachable by address only
        ("rest", "POST", "/v2/token"),  # token route on the REST host
        ("rest", "GET", "/_emulator/health"),
        ("soap", "POST", "/hub/v1/dataevents/key:identify/rowset"),  # SOAP host serves SOAP only
    ],
)
def test_each_host_serves_only_its_own_routes(tenant, kind, method, path):
    sub = subdomain_of(tenant)
    answer = tenant.client.open(
        path, method=method, json=ROW, headers={**tenant.headers(), "Host": f"{sub}.{kind}.marketingcloudapis.com"}
    )
    assert answer.status_code == 404
    body = answer.get_json()
    message = body.get("error_description") or body.get("message")
    assert "is not served on" in message
    if kind == "auth":
        assert body["error"] == "invalid_request"  # the auth host answers in OAuth's shape
    else:
        assert body["errorcode"] == 30003  # SFMC's REST envelope


def test_unknown_subdomain_is_a_404_naming_it(client, tenant):
    missing = "mc" + "z" * 26
    answer = token_by_name(tenant, missing)
    assert answer.status_code == 404
    assert missing in answer.get_json()["error_description"]
    rest = client.get(
        "/data/v1/customobjectdata/key/identify/rowset",
        headers={**tenant.headers(), "Host": f"{missing}.rest.marketingcloudapis.com"},
    )
    assert rest.status_code == 404
    assert missing in rest.get_json()["message"]


def test_another_tenants_host_refuses_the_client_and_its_token(client):
    first, second = make_tenant(client), make_tenant(client)
    sub_of_second = subdomain_of(second)
    refused = token_by_name(first, sub_of_second)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"
    wrong_host = client.post(
        "/hub/v1/dataevents/key:identify/rowset",
        json=ROW,
        headers={**first.headers(), "Host": f"{sub_of_second}.rest.marketingcloudapis.com"},
    )
    assert wrong_host.status_code == 401
    assert second.rows("identify") == []


def test_legacy_hosts(tenant):
    token = tenant.client.post(
        "/v1/requestToken",
        json={"clientId": tenant.client_id, "clientSecret": tenant.client_secret},
        headers={"Host": "auth.exacttargetapis.com"},
    )
    assert token.status_code == 200
    headers = {"Authorization": f"Bearer {token.get_json()['accessToken']}", "Host": "www.exacttargetapis.com"}
    assert tenant.client.post("/hub/v1/dataevents/key:identify/rowset", json=ROW, headers=headers).status_code == 200
    assert (
        tenant.client.post("/v2/token", json={}, headers={"Host": "www.exacttargetapis.com"}).status_code == 404
    )  # tokens come from the auth hosts
    soap_only = tenant.client.post(
        "/hub/v1/dataevents/key:identify/rowset", json=ROW, headers={**headers, "Host": "webservice.s7.exacttarget.com"}
    )
    assert soap_only.status_code == 404


def test_journal_and_metrics_show_the_host(tenant):
    sub = subdomain_of(tenant)
    token_by_name(tenant, sub)
    tenant.rowset("identify", ROW)
    entries = tenant.client.get(f"/_emulator/journal?tenant={tenant.id}&limit=10").get_json()["items"]
    hosts = {e["path"]: e["host"] for e in entries}
    assert hosts["/v2/token"] == f"{sub}.auth.marketingcloudapis.com"
    assert hosts["/hub/v1/dataevents/key:identify/rowset"] == "localhost"
    metrics = tenant.client.get("/_emulator/metrics").get_data(as_text=True)
    assert (
        f'sfmc_emulator_requests_by_host_total{{host="{sub}.auth.marketingcloudapis.com",tenant="{tenant.id}"}} 1.0'
        in (metrics)
    )


def test_public_url_and_forwarded_headers():
    app = create_app(Config(public_url="https://sfmc.example.test/base"))
    tenant = make_tenant(app.test_client())
    assert (
        tenant.client.post(
            "/v2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": tenant.client_id,
                "client_secret": tenant.client_secret,
            },
        ).get_json()["rest_instance_url"]
        == "https://sfmc.example.test/base/"
    )

    body = {"grant_type": "client_credentials"}
    for trusted, expected in ((False, "http://localhost/"), (True, "https://front.example.test/")):
        app = create_app(Config(trust_forwarded=trusted))
        tenant = make_tenant(app.test_client())
        body.update(client_id=tenant.client_id, client_secret=tenant.client_secret)
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "front.example.test"}
        answer = tenant.client.post("/v2/token", json=body, headers=forwarded).get_json()
        assert answer["rest_instance_url"] == expected


@pytest.mark.parametrize(
    ("host", "kind", "sub"),
    [
        ("MC563885GZS27C5T9-63K636TTGM.Auth.MarketingCloudAPIs.com:443", "auth", "mc563885gzs27c5t9-63k636ttgm"),
        ("x.rest.marketingcloudapis.com.", "rest", "x"),
        ("webservice.s10.exacttarget.com", "legacy-soap", None),
        ("auth.exacttargetapis.com", "legacy-auth", None),
    ],
)
def test_classify_names(host, kind, sub):
    found = classify(host)
    assert (found.kind, found.subdomain) == (kind, sub)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8085", "localhost", "[::1]:80", "a.b.rest.marketingcloudapis.com", "evil.com", "", "x:y"]
)
def test_other_hosts_are_not_sfmc(host):
    assert classify(host) is None


def test_split_port_refuses_nonsense():
    for bad in ("host:99999", "host:0", "[::1]x"):
        with pytest.raises(ValueError):
            split_port(bad)


def test_soap_host_serves_soap_and_the_wsdl_for_its_own_tenant_only(client):
    first, second = make_tenant(client), make_tenant(client)
    sub = subdomain_of(first)
    body = retrieve("DataExtensionObject[identify]", ["Email"])
    headers = {"Content-Type": "text/xml; charset=utf-8", "Host": f"{sub}.soap.marketingcloudapis.com"}
    own = client.post("/Service.asmx", data=envelope(body, first.get_token()), headers=headers)
    assert own.status_code == 200, own.data[:400]
    assert retrieved(own.data)[0] == "OK"
    other = client.post("/Service.asmx", data=envelope(body, second.get_token()), headers=headers)
    assert other.status_code == 401
    assert b"faultstring" in other.data  # refused in SOAP's own envelope
    wsdl = client.get("/etframework.wsdl", base_url=f"https://{sub}.soap.marketingcloudapis.com")
    assert f'location="https://{sub}.soap.marketingcloudapis.com/Service.asmx"'.encode() in wsdl.data
    endpoint = client.get(
        "/platform/v1/endpoints/soap", headers={**first.headers(), "Host": f"{sub}.rest.marketingcloudapis.com"}
    )
    assert endpoint.get_json() == {"url": f"https://{sub}.soap.marketingcloudapis.com/Service.asmx"}
