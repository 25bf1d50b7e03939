"""The control plane's stats, traffic series and admin token."""

from __future__ import annotations

from emulator import Config
from emulator.app import create_app
from emulator.clock import Clock


def test_stats_count_requests_by_class_rows_and_ignored_keys(client, tenant_factory):
    tenant = tenant_factory(settings={"rate_limit": 1, "burst": 2})
    tenant.rowset("identify", [{"keys": {"Contact Key": "a"}, "values": {"Age": 1, "Shoe Size": 1, "Hat": 2}}])
    tenant.rowset("identify", [{"keys": {"Contact Key": "b"}, "values": {"Email": "bad"}}])
    tenant.rowset("identify", [{"keys": {"Contact Key": "c"}, "values": {"Age": 1}}])
    stats = client.get(f"/_emulator/tenants/{tenant.id}/stats").get_json()
    assert stats == {
        "tenant": tenant.id,
        "requests": 4,
        "2xx": 2,
        "3xx": 0,
        "4xx": 2,
        "5xx": 0,
        "429": 1,
        "dropped": 0,
        "faults": 0,
        "rows_written": 1,
        "rows_failed": 1,
        "keys_ignored": 2,
        "journal_evicted": 0,
    }
    assert client.get("/_emulator/tenants/nobody/stats").status_code == 404


def test_traffic_gives_per_second_accepted_and_throttled_counts(client, clock, tenant_factory):
    clock.freeze()
    tenant = tenant_factory(settings={"rate_limit": 2, "burst": 2})
    for _ in range(3):
        tenant.call("GET", "/data/v1/customobjects?$search=")
    clock.advance(1)
    tenant.call("GET", "/data/v1/customobjects?$search=")
    traffic = client.get(f"/_emulator/tenants/{tenant.id}/traffic?seconds=5").get_json()
    assert traffic["rate_limit"] == 2 and len(traffic["points"]) == 5
    assert [(p["accepted"], p["throttled"]) for p in traffic["points"][-2:]] == [(3, 1), (1, 0)]  # + token call
    assert client.get(f"/_emulator/tenants/{tenant.id}/traffic?seconds=0").status_code == 400


def test_the_admin_token_guards_the_control_plane_but_not_sfmc():
    client = create_app(Config(database=":memory:", admin_token="s3cret"), clock=Clock()).test_client()
    refused = client.get("/_emulator/tenants")
    assert refused.status_code == 401 and "admin token" in refused.get_json()["message"]
    assert client.get("/_emulator/tenants", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/_emulator/tenants", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/_emulator/journal", headers={"X-Emulator-Admin-Token": "s3cret"}).status_code == 200
    assert client.get("/_emulator/health").status_code == 200
    assert client.get("/_emulator/openapi.json").status_code == 200
    assert client.get("/_emulator/ui").status_code == 200  # the page holds no data; its calls need the token
    assert client.post("/_emulator/faults", json={"kind": "drop"}).status_code == 401
    # SFMC calls are not guarded by the admin token: they use their own OAuth tokens
    assert (
        client.post(
            "/v2/token", json={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
        ).status_code
        == 401
    )
    assert client.get("/_emulator/journal", headers={"X-Emulator-Admin-Token": "s3cret"}).get_json()["count"] == 1


def test_the_cli_takes_the_admin_token_and_journal_size(live_server_factory):
    import requests

    server = live_server_factory("--db", ":memory:", "--admin-token", "tok", "--journal-size", "2")
    assert requests.get(f"{server.url}/_emulator/tenants", timeout=10).status_code == 401
    for _ in range(3):
        requests.get(f"{server.url}/data/v1/customobjects", timeout=10)
    journal = requests.get(f"{server.url}/_emulator/journal", headers={"Authorization": "Bearer tok"}, timeout=10)
    assert journal.status_code == 200 and journal.json()["count"] == 2 and journal.json()["evicted"] == 1
