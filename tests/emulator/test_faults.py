"""Fault injection: rules set through the admin API or a scenario make SFMC misbehave on purpose."""

from __future__ import annotations

import time

import pytest
import requests

from emulator import Config
from emulator.app import create_app
from emulator.clock import Clock
from tests.conftest import make_tenant

ROW = [{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@b.co"}}]


def add_fault(client, **rule) -> dict:
    response = client.post("/_emulator/faults", json=rule)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_server_error_unavailable_and_blocked_answer_in_the_sfmc_envelope(client, tenant):
    add_fault(client, kind="server_error", tenant=tenant.id, times=1)
    failed = tenant.rowset("identify", ROW)
    assert failed.status_code == 500 and failed.get_json()["errorcode"] == 0
    add_fault(client, kind="unavailable", tenant=tenant.id, times=1, retry_after=7)
    unavailable = tenant.rowset("identify", ROW)
    assert unavailable.status_code == 503 and unavailable.get_json()["errorcode"] == 50300
    assert unavailable.headers["Retry-After"] == "7"
    add_fault(client, kind="blocked", tenant=tenant.id, times=1)
    blocked = tenant.rowset("identify", ROW)
    assert blocked.status_code == 429 and "Retry-After" not in blocked.headers
    assert blocked.get_json()["errorcode"] == 50200
    assert blocked.get_json()["message"] == "Your requests are temporarily blocked."
    assert tenant.rowset("identify", ROW).status_code == 200  # every rule was used up
    assert tenant.rows("identify") == [{"Contact Key": "u1", "Email": "a@b.co"}]


def test_rows_not_saved_names_the_de_and_has_no_additional_errors(client, tenant):
    add_fault(client, kind="rows_not_saved", tenant=tenant.id, path="/hub/v1/dataevents/*/rowset", times=1)
    de_id = client.get(f"/_emulator/tenants/{tenant.id}/data-extensions").get_json()["items"][0]["id"]
    response = tenant.rowset("identify", ROW)
    body = response.get_json()
    assert response.status_code == 400 and body["errorcode"] == 10006
    assert body["message"] == f"Unable to save rows for data extension ID {de_id}"
    assert "additionalErrors" not in body  # clients treat this shape as retryable
    assert tenant.rows("identify") == []


def test_custom_error_and_matching_by_method_and_path(client, tenant):
    add_fault(
        client,
        kind="error",
        status=502,
        errorcode=12345,
        message="Bad gateway",
        method="GET",
        path_regex=r"^/data/v1/customobjects$",
    )
    assert tenant.call("GET", "/data/v1/customobjects?$search=").get_json() == {
        "message": "Bad gateway",
        "errorcode": 12345,
        "documentation": tenant.call("GET", "/data/v1/customobjects?$search=").get_json()["documentation"],
    }
    assert tenant.call("GET", "/data/v1/customobjects/key:identify").status_code == 200
    assert tenant.rowset("identify", ROW).status_code == 200


def test_rules_are_scoped_to_their_tenant(client, tenant_factory):
    hit, spared = tenant_factory(), tenant_factory()
    add_fault(client, kind="server_error", tenant=hit.id)
    assert hit.rowset("identify", ROW).status_code == 500
    assert spared.rowset("identify", ROW).status_code == 200


def test_times_limits_firings_and_the_listing_shows_them(client, tenant):
    rule = add_fault(client, id="two-500s", kind="server_error", tenant=tenant.id, times=2)
    assert rule["id"] == "two-500s" and rule["remaining"] == 2
    statuses = [tenant.rowset("identify", ROW).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    listed = client.get("/_emulator/faults/two-500s").get_json()
    assert listed["fired"] == 2 and listed["remaining"] == 0 and listed["active"] is False


def test_probability_is_reproducible_with_a_seed():
    def run() -> list[int]:
        client = create_app(Config(database=":memory:"), clock=Clock()).test_client()
        tenant = make_tenant(client)
        add_fault(client, kind="unavailable", tenant=tenant.id, probability=0.5, seed=42)
        return [tenant.rowset("identify", ROW).status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert 5 <= first.count(503) <= 25 and set(first) == {200, 503}


def test_time_window_on_the_emulator_clock(client, clock, tenant):
    clock.freeze()
    add_fault(client, kind="server_error", tenant=tenant.id, after=10, until=20)
    assert tenant.rowset("identify", ROW).status_code == 200
    clock.advance(10)
    assert tenant.rowset("identify", ROW).status_code == 500
    clock.advance(10)
    assert tenant.rowset("identify", ROW).status_code == 200


def test_latency_delays_the_answer(client, tenant):
    add_fault(client, kind="latency", tenant=tenant.id, delay=0.3, times=1)
    started = time.perf_counter()
    assert tenant.rowset("identify", ROW).status_code == 200
    assert time.perf_counter() - started >= 0.3
    entry = client.get(
        "/_emulator/journal", query_string={"tenant": tenant.id, "method": "POST", "path": "/hub/*"}
    ).get_json()["items"][0]
    assert entry["latency_ms"] >= 300


def test_revoked_tokens_stop_working_and_a_new_token_recovers(client, tenant):
    old = tenant.get_token()
    add_fault(client, kind="revoke_tokens", tenant=tenant.id)
    refused = tenant.call("GET", "/data/v1/customobjects?$search=")
    assert refused.status_code == 401 and refused.get_json()["errorcode"] == 0
    assert "WWW-Authenticate" not in refused.headers
    assert tenant.get_token() != old
    assert tenant.call("GET", "/data/v1/customobjects?$search=").status_code == 200


def test_expired_tokens_answer_with_www_authenticate(client, clock, tenant):
    clock.freeze()
    tenant.get_token()
    add_fault(client, kind="expire_tokens", tenant=tenant.id)
    refused = tenant.call("GET", "/data/v1/customobjects?$search=")
    assert refused.status_code == 401 and "expired" in refused.headers["WWW-Authenticate"]
    clock.advance(1)
    tenant.get_token()
    assert tenant.call("GET", "/data/v1/customobjects?$search=").status_code == 200


def test_async_hook_for_the_worker(app, client, tenant):
    engine = app.extensions["sfmc"]
    assert engine.faults.for_async_job(tenant.id, "identify") is None
    add_fault(client, kind="async_stall", tenant=tenant.id, data_extension="ident*", times=1)
    add_fault(client, kind="async_fail_rows", tenant=tenant.id, times=1)
    stall = engine.faults.for_async_job(tenant.id, "Identify")
    assert stall.action == "stall"
    failure = engine.faults.for_async_job(tenant.id, "identify")
    assert failure.action == "fail_rows" and "deadlocked" in failure.message
    assert engine.faults.for_async_job(tenant.id, "identify") is None
    # async rules never touch synchronous calls
    assert tenant.rowset("identify", ROW).status_code == 200


def test_faulted_calls_are_journaled_with_the_rule_and_cost_no_rate_limit_token(client, tenant):
    tenant.settings(rate_limit=1, burst=1)
    rule = add_fault(client, kind="unavailable", tenant=tenant.id, times=3)
    for _ in range(3):
        assert tenant.rowset("identify", ROW).status_code == 503
    assert tenant.rowset("identify", ROW).status_code == 200
    faulted = client.post("/_emulator/journal/count", json={"tenant": tenant.id, "status": 503}).get_json()
    assert faulted == {"count": 3}
    entry = client.get("/_emulator/journal", query_string={"status": 503}).get_json()["items"][0]
    assert entry["fault"] == rule["id"]
    assert client.get(f"/_emulator/tenants/{tenant.id}/stats").get_json()["faults"] == 3


def test_token_calls_can_fail_too(client, tenant):
    add_fault(client, kind="server_error", path="/v2/token", tenant=tenant.id, times=1)
    body = {"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": tenant.client_secret}
    assert client.post("/v2/token", json=body).status_code == 500
    assert client.post("/v2/token", json=body).status_code == 200


def test_invalid_rules_are_refused_listing_every_problem(client):
    response = client.post("/_emulator/faults", json={"kind": "explode", "times": 0})
    body = response.get_json()
    assert response.status_code == 400 and body["errorcode"] == 10003
    assert len(body["additionalErrors"]) == 2
    for rule in (
        {"kind": "latency"},
        {"kind": "error"},
        {"kind": "drop", "path_regex": "("},
        {"kind": "drop", "after": 5, "until": 2},
        [{"kind": "drop"}, {"kind": "nope"}],
    ):
        assert client.post("/_emulator/faults", json=rule).status_code == 400, rule
    assert client.get("/_emulator/faults").get_json()["items"] == []  # a bad list adds nothing


def test_delete_one_or_all_rules(client, tenant):
    first, _ = client.post(
        "/_emulator/faults",
        json=[{"kind": "server_error", "tenant": tenant.id}, {"kind": "blocked", "tenant": "other"}],
    ).get_json()
    assert client.post("/_emulator/faults", json={"id": first["id"], "kind": "drop"}).status_code == 400
    assert client.delete(f"/_emulator/faults/{first['id']}").status_code == 200
    assert client.delete(f"/_emulator/faults/{first['id']}").status_code == 404
    assert tenant.rowset("identify", ROW).status_code == 200
    assert client.delete("/_emulator/faults").get_json() == {"removed": 1}


def test_a_scenario_declares_faults(client):
    scenario = """
tenants:
  - id: flaky
    data_extensions:
      - key: identify
        name: Identify
        fields: [{name: Contact Key, primary_key: true}]
faults:
  - {kind: unavailable, tenant: flaky, path: "/hub/*", times: 1}
"""
    assert client.post("/_emulator/scenarios", data=scenario).status_code == 201
    flaky = client.get("/_emulator/tenants/flaky").get_json()["packages"][0]
    token = client.post(
        "/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": flaky["client_id"],
            "client_secret": flaky["client_secret"],
        },
    ).get_json()["access_token"]
    response = client.post(
        "/hub/v1/dataevents/key:identify/rowset",
        json=[{"keys": {"Contact Key": "a"}}],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 503
    bad = client.post("/_emulator/scenarios", data="tenants: []\nfaults:\n  - {kind: unavailable, times: -1}\n")
    assert bad.status_code == 400 and "faults[0]" in bad.get_json()["message"]


def test_drop_closes_the_connection_of_a_live_server(live_server_factory):
    server = live_server_factory("--db", ":memory:", "--rate-limit", "0")
    admin = f"{server.url}/_emulator"
    assert (
        requests.post(
            f"{admin}/faults", json={"kind": "drop", "tenant": "demo", "path": "/hub/*", "times": 1}, timeout=10
        ).status_code
        == 201
    )
    token = requests.post(
        f"{server.url}/v2/token",
        timeout=10,
        json={"grant_type": "client_credentials", "client_id": "demo-client-id", "client_secret": "demo-client-secret"},
    ).json()["access_token"]
    url = f"{server.url}/hub/v1/dataevents/key:segment-identify/rowset"
    rows = [{"keys": {"Contact Key": "dropped"}, "values": {"First Name": "D"}}]
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json=rows, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert requests.post(url, json=rows, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    entries = requests.get(f"{admin}/journal", params={"path": "/hub/*"}, timeout=10).json()["items"]
    assert [e["status"] for e in entries] == [200, None]
    assert requests.get(f"{admin}/tenants/demo/stats", timeout=10).json()["dropped"] == 1


def test_a_path_regex_that_could_backtrack_without_bound_is_refused_naming_why(client):
    for pattern, why in (
        ("^/(a+)+$", "repeated group"),
        ("(a|aa)*$", "repeated group"),
        ("^/x/(\\w+)*$", "repeated group"),
        (".*hub.*rowset", "more than one unbounded repeat"),
        ("(a)\\1", "backreferences"),
        ("(?=/hub)/", "lookarounds"),
    ):
        response = client.post("/_emulator/faults", json={"kind": "drop", "path_regex": pattern})
        body = response.get_json()
        assert response.status_code == 400 and body["errorcode"] == 10003, (pattern, body)
        assert why in body["message"], (pattern, body["message"])
    assert client.get("/_emulator/faults").get_json()["items"] == []


def test_a_path_regex_rule_still_fires_and_a_hostile_path_is_answered_at_once(client, tenant):
    rules = [
        {"kind": "blocked", "tenant": tenant.id, "path_regex": "^/(hub|data)/v1/dataevents/[^/]*/rowset$"},
        {"kind": "blocked", "tenant": tenant.id, "path_regex": "[a-z]*!"},  # one unbounded repeat: allowed
    ]
    assert client.post("/_emulator/faults", json=rules).status_code == 201
    assert tenant.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=[]).status_code == 429
    started = time.perf_counter()
    hostile = tenant.call("GET", "/data/v1/customobjects/" + "a" * 100_000)
    assert hostile.status_code in (400, 404) and hostile.get_json()["errorcode"]
    assert time.perf_counter() - started < 2.0
    short = tenant.call("GET", "/data/v1/customobjects/key:abc!")
    assert short.status_code == 429  # paths within the searched length still match
