"""Per-tenant token-bucket throttling (RL-1): 429 errorcode 50100 with Retry-After, exact under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

READ = "/data/v1/customobjectdata/key/identify/rowset"


def fire(tenant, n: int, threads: int = 8) -> list:
    tenant.headers()  # take the token before the burst so all threads share it
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: tenant.call("GET", READ), range(n)))


def test_burst_then_429_with_retry_after(tenant, client):
    client.post("/_emulator/clock", json={"freeze": True})
    tenant.settings(rate_limit=5, burst=5)
    responses = fire(tenant, 30)
    assert sum(r.status_code == 200 for r in responses) == 5
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == 25
    body = refused[0].get_json()
    assert body["errorcode"] == 50100 and body["message"] == "Rate limit exceeded"
    assert body["retryAfter"] == 1 and refused[0].headers["Retry-After"] == "1"


def test_accepted_over_a_window_is_rate_times_window_plus_burst(tenant, client):
    """Many threads against a 20/s limit with burst 20, over 3 s of emulator time: exactly 80 accepted."""
    client.post("/_emulator/clock", json={"freeze": True})
    tenant.settings(rate_limit=20, burst=20)
    accepted = sum(r.status_code == 200 for r in fire(tenant, 40))
    for _ in range(12):  # 12 steps of 0.25 s = 3 s; each step refills 5 tokens
        client.post("/_emulator/clock", json={"advance": 0.25})
        accepted += sum(r.status_code == 200 for r in fire(tenant, 12))
    assert accepted == 20 * 3 + 20


def test_retry_after_tells_how_long_to_wait(tenant, client):
    client.post("/_emulator/clock", json={"freeze": True})
    tenant.settings(rate_limit=0.25, burst=1)
    assert tenant.call("GET", READ).status_code == 200
    refused = tenant.call("GET", READ)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "4"
    client.post("/_emulator/clock", json={"advance": 4})
    assert tenant.call("GET", READ).status_code == 200


def test_limits_are_per_tenant(tenant_factory, client):
    client.post("/_emulator/clock", json={"freeze": True})
    a = tenant_factory(settings={"rate_limit": 2, "burst": 2})
    b = tenant_factory(settings={"rate_limit": 2, "burst": 2})
    assert [r.status_code for r in fire(a, 3, threads=1)] == [200, 200, 429]
    assert [r.status_code for r in fire(b, 2, threads=1)] == [200, 200]


def test_token_calls_and_admin_calls_are_not_counted(tenant, client):
    client.post("/_emulator/clock", json={"freeze": True})
    tenant.settings(rate_limit=1, burst=1)
    for _ in range(5):
        tenant.get_token()
        client.get(f"/_emulator/tenants/{tenant.id}")
    assert tenant.call("GET", READ).status_code == 200


def test_limit_changes_at_runtime_and_can_be_switched_off(tenant, client):
    client.post("/_emulator/clock", json={"freeze": True})
    tenant.settings(rate_limit=1, burst=1)
    assert [r.status_code for r in fire(tenant, 2, threads=1)] == [200, 429]
    tenant.settings(rate_limit=0)
    assert all(r.status_code == 200 for r in fire(tenant, 50))
    tenant.settings(rate_limit=3, burst=3)
    assert sum(r.status_code == 200 for r in fire(tenant, 10)) == 3


def test_default_limit_is_20_per_second(tenant_factory, client):
    client.post("/_emulator/clock", json={"freeze": True})
    tenant = tenant_factory(settings={})
    assert sum(r.status_code == 200 for r in fire(tenant, 30)) == 20
