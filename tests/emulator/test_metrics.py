"""Prometheus metrics at /_emulator/metrics, one registry per app."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from emulator import Config
from emulator.app import create_app
from emulator.clock import Clock
from tests.conftest import make_tenant


def samples(client) -> dict[tuple, float]:
    response = client.get("/_emulator/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_requests_429s_rows_and_ignored_keys_are_exported(app, client, tenant_factory):
    tenant = tenant_factory(settings={"rate_limit": 1, "burst": 2})
    tenant.rowset(
        "identify",
        [
            {"keys": {"Contact Key": "a"}, "values": {"Age": 1, "Nope": 1}},
            {"keys": {"Contact Key": "b"}, "values": {"Age": 1}},
        ],
    )
    tenant.rowset("identify", [{"keys": {"Contact Key": "c"}, "values": {"Age": 1}}])
    assert tenant.rowset("identify", [{"keys": {"Contact Key": "d"}, "values": {"Age": 1}}]).status_code == 429
    found = samples(client)
    labels = (("method", "POST"), ("route", "/hub/v1/dataevents/<ref>/rowset"), ("tenant", tenant.id))
    assert found[("sfmc_emulator_requests_total", (*labels[:2], ("status", "200"), labels[2]))] == 2
    assert found[("sfmc_emulator_requests_total", (*labels[:2], ("status", "429"), labels[2]))] == 1
    assert found[("sfmc_emulator_throttled_total", (("tenant", tenant.id),))] == 1
    assert found[("sfmc_emulator_rows_written_total", (("tenant", tenant.id),))] == 3
    assert found[("sfmc_emulator_keys_ignored_total", (("tenant", tenant.id),))] == 1
    assert found[("sfmc_emulator_async_queue_depth", ())] == 0


def test_the_async_queue_depth_is_read_through_the_engine_hook(app, client):
    app.extensions["sfmc"].async_queue_depth = lambda: 7
    assert samples(client)[("sfmc_emulator_async_queue_depth", ())] == 7


def test_each_app_has_its_own_registry():
    first = create_app(Config(database=":memory:"), clock=Clock()).test_client()
    second = create_app(Config(database=":memory:"), clock=Clock()).test_client()
    tenant = make_tenant(first)
    tenant.call("GET", "/data/v1/customobjects?$search=")
    assert any(name == "sfmc_emulator_requests_total" for name, _ in samples(first))
    assert not any(name == "sfmc_emulator_requests_total" for name, _ in samples(second))


def series(client, family: str) -> set[tuple]:
    return {labels for name, labels in samples(client) if name == family}


def test_made_up_methods_and_host_names_add_no_series(client, tenant):
    """Issue D13: every invented HTTP method or subdomain used to add a Prometheus series, without bound."""
    tenant.call("GET", "/data/v1/customobjects?$search=")
    before_requests = series(client, "sfmc_emulator_requests_total")
    for n in range(40):
        client.open("/hub/v1/dataevents/key:x/rowset", method=f"BREW{n}", headers=tenant.headers())
        client.get("/data/v1/customobjects", headers={"Host": f"nobody{n}.rest.marketingcloudapis.com"})
    requests_series = series(client, "sfmc_emulator_requests_total")
    invented = {labels for labels in requests_series - before_requests if ("method", "OTHER") in labels}
    assert invented, "the invented methods are counted under one label"
    assert not any(dict(labels)["method"].startswith("BREW") for labels in requests_series)
    assert len(requests_series - before_requests) <= 4  # OTHER and the unknown-host GETs, by status
    hosts = {dict(labels)["host"] for labels in series(client, "sfmc_emulator_requests_by_host_total")}
    assert not any(host.startswith("nobody") for host in hosts)
    assert "(unknown tenant)" in hosts
