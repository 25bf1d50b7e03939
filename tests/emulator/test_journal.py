"""The request journal: every SFMC call recorded in the chain, queryable, verifiable and bounded."""

from __future__ import annotations

from werkzeug.datastructures import EnvironHeaders
from werkzeug.test import EnvironBuilder

from emulator import Config
from emulator.app import create_app
from emulator.clock import Clock
from emulator.domain.journal import entry_bytes
from tests.conftest import make_tenant


def journal(client, **params) -> list[dict]:
    response = client.get("/_emulator/journal", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def count(client, **pattern) -> int:
    response = client.post("/_emulator/journal/count", json=pattern)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["count"]


def test_a_rowset_is_recorded_with_bodies_ignored_keys_and_broken_rules(client, tenant):
    ok = tenant.rowset("identify", [{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@b.co", "Shoe Size": 9}}])
    assert ok.status_code == 200
    bad = tenant.rowset("identify", [{"keys": {"Contact Key": "u2"}, "values": {"Email": "not-an-email"}}])
    assert bad.status_code == 400
    newest, oldest = journal(client, tenant=tenant.id, path="/hub/*")
    assert oldest["method"] == "POST" and oldest["path"] == "/hub/v1/dataevents/key:identify/rowset"
    assert oldest["status"] == 200 and oldest["mid"] == tenant.mids[0]
    assert oldest["route"] == "/hub/v1/dataevents/<ref>/rowset"
    assert '"Shoe Size"' in oldest["request_body"] and oldest["response_body"].startswith("[")
    assert oldest["keys_ignored"] == ["Shoe Size"] and oldest["rows_written"] == 1 and oldest["rules_broken"] == []
    assert oldest["latency_ms"] >= 0 and oldest["request_headers"]["Authorization"].startswith("Bearer ")
    assert tenant.token not in str(oldest["request_headers"])
    assert newest["status"] == 400 and newest["rows_written"] == 0
    assert any("Email" in rule for rule in newest["rules_broken"])
    assert '"errorcode": 10006' in newest["response_body"] or '"errorcode":10006' in newest["response_body"]


def test_refused_calls_are_recorded_unknown_tenant_as_null(client, tenant_factory):
    limited = tenant_factory(settings={"rate_limit": 1, "burst": 1})
    client.get("/data/v1/customobjects?$search=", headers={"Authorization": "Bearer nope"})
    assert limited.call("GET", "/data/v1/customobjects?$search=").status_code == 200
    assert limited.call("GET", "/data/v1/customobjects?$search=").status_code == 429
    unauthenticated = journal(client, tenant="null")
    assert [(e["status"], e["tenant"], e["mid"]) for e in unauthenticated] == [(401, None, None)]
    assert count(client, tenant=None, status=401) == 1
    assert count(client, tenant=limited.id, status=429) == 1
    assert count(client, tenant=limited.id, status="2xx") == 2  # the token call and the first GET
    assert count(client, status="4xx") == 2


def test_token_calls_are_attributed_to_their_tenant_with_the_secret_redacted(client, tenant):
    tenant.get_token()
    client.post(
        "/v2/token",
        data={"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": tenant.client_secret},
    )
    json_call, form_call = journal(client, tenant=tenant.id, path="/v2/token")[::-1]
    for entry in (json_call, form_call):
        assert entry["status"] == 200 and tenant.client_secret not in entry["request_body"]
        assert "***" in entry["request_body"] and tenant.client_id in entry["request_body"]


def test_filters_by_method_path_substring_since_and_body(client, clock, tenant):
    clock.freeze()
    tenant.rowset("identify", [{"keys": {"Contact Key": "early"}, "values": {}}])
    clock.advance(30)
    later = clock.now()
    tenant.rowset("identify", [{"keys": {"Contact Key": "late"}, "values": {}}])
    tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset")
    assert count(client, tenant=tenant.id, method="post", path="/hub/*") == 2
    assert count(client, tenant=tenant.id, method="GET", path="/data/v1/customobjectdata/*") == 1
    assert count(client, tenant=tenant.id, path_contains="dataevents/key:identify/rowset") == 2
    assert count(client, tenant=tenant.id, since=later) == 2
    assert [e["request_body"] for e in journal(client, body_contains="early")] == [
        '[{"keys": {"Contact Key": "early"}, "values": {}}]'
    ]
    first = journal(client, tenant=tenant.id)[-1]["id"]
    assert len(journal(client, tenant=tenant.id, since_id=first)) == 3  # after the token call
    assert client.get(f"/_emulator/journal/{first}").get_json()["id"] == first


def test_bad_patterns_are_400_in_the_sfmc_envelope(client):
    for pattern in ({"path_regex": "("}, {"status": "abc"}, {"since": "yesterday"}, {"color": "red"}):
        response = client.post("/_emulator/journal/count", json=pattern)
        assert response.status_code == 400 and response.get_json()["errorcode"] in (10001, 10003), pattern
    assert client.get("/_emulator/journal?path_regex=(").status_code == 400
    assert client.get("/_emulator/journal/999999").status_code == 404


def test_admin_calls_are_not_journaled_and_delete_clears(client, tenant):
    tenant.call("GET", "/data/v1/customobjects?$search=")
    client.get(f"/_emulator/tenants/{tenant.id}")
    client.get("/_emulator/no-such-admin-path")
    assert count(client, path="/_emulator*") == 0
    assert count(client) == 2  # the token call and the GET
    assert client.delete(f"/_emulator/journal?tenant={tenant.id}").get_json() == {"cleared": 2}
    assert count(client) == 0


def test_unknown_paths_are_journaled_under_the_unknown_tenant(client):
    assert client.get("/hub/v1/nothing-here").status_code == 404
    (entry,) = journal(client, tenant="null")
    assert entry["route"] == "(unmatched)" and entry["status"] == 404


def test_each_tenant_keeps_a_bounded_ring_and_counts_evictions(database):
    app = create_app(Config(database=database, journal_size=3), clock=Clock())
    client = app.test_client()
    busy, quiet = make_tenant(client), make_tenant(client)
    quiet.call("GET", "/data/v1/customobjects?$search=")
    for _ in range(5):
        busy.call("GET", "/data/v1/customobjects?$search=")
    kept = journal(client, tenant=busy.id)
    assert len(kept) == 3 and all(e["method"] == "GET" for e in kept)
    assert len(journal(client, tenant=quiet.id)) == 2  # a noisy tenant cannot evict another's entries
    stats = client.get(f"/_emulator/tenants/{busy.id}/stats").get_json()
    assert stats["journal_evicted"] == 3 and stats["requests"] == 6  # the counters never evict
    assert client.get("/_emulator/journal").get_json()["evicted"] == 3
    app.extensions["sfmc"].async_rows.stop()
    app.extensions["sfmc"].store.close()


def test_bodies_are_capped_at_16_kb(client, tenant):
    rows = [{"keys": {"Contact Key": f"user-{i}"}, "values": {"First Name": "x" * 18}} for i in range(400)]
    assert tenant.rowset("identify", rows).status_code == 200
    (entry,) = journal(client, tenant=tenant.id, method="POST", path="/hub/*")
    assert entry["request_body_truncated"] and len(entry["request_body"].encode()) <= 16 * 1024
    assert entry["response_body_truncated"] and entry["rows_written"] == 400


def test_reset_clears_the_tenants_journal(client, tenant):
    tenant.call("GET", "/data/v1/customobjects?$search=")
    assert client.post(f"/_emulator/tenants/{tenant.id}/reset").status_code == 200
    assert count(client, tenant=tenant.id) == 0


def test_a_huge_header_is_kept_cut_and_says_how_long_it_was(client, tenant):
    """Issue D12: header values were stored whole (a 250 KB header a request grew memory by 250 KB)."""
    tenant.call("GET", "/data/v1/customobjects?$search=", headers={"X-Trace": "t" * 250_000})
    (entry,) = journal(client, tenant=tenant.id, path="/data/*")
    kept = entry["request_headers"]["X-Trace"]
    assert kept.startswith("t" * 1024) and kept.endswith("(250000 characters)") and len(kept) < 1100


def test_all_tenants_together_stay_under_the_byte_bound_and_evictions_are_counted(database):
    """Issue D12: each tenant had its own ring and nothing bounded them together, so many tenants grew it."""
    app = create_app(Config(database=database, journal_size=1000, journal_bytes=200_000), clock=Clock())
    client = app.test_client()
    tenants = [make_tenant(client) for _ in range(4)]
    body = [{"keys": {"Contact Key": "k"}, "values": {"Email": "a@b.co", "Padding": "x" * 4_000}}]
    for _ in range(15):
        for tenant in tenants:
            assert tenant.rowset("identify", body).status_code == 200
    metrics = client.get("/_emulator/metrics").get_data(as_text=True)
    held = float(
        next(line.split()[1] for line in metrics.splitlines() if line.startswith("sfmc_emulator_journal_bytes "))
    )
    assert 0 < held <= 200_000
    evicted = sum(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("sfmc_emulator_journal_evictions_total")
    )
    kept = sum(len(journal(client, tenant=t.id, path="/hub/*")) for t in tenants)
    assert evicted > 0 and kept + evicted >= 60  # 60 rowsets (+ token calls): every one either kept or counted
    newest = journal(client, tenant=tenants[-1].id, path="/hub/*")
    assert newest, "the newest entries are the ones kept"
    app.extensions["sfmc"].async_rows.stop()
    app.extensions["sfmc"].store.close()


def test_the_recorded_headers_are_the_requests_headers_as_flask_lists_them(client, tenant):
    """Names spelled and ordered as ``request.headers`` lists them, empty values kept, an empty
    Content-Length left out, credentials hidden, at most 30 headers."""
    sent = {"X-Trace": "t1", "x-lower_case": "v", "X-Empty": "", "X-Emulator-Admin-Token": "sekrit", "User-Agent": "t"}
    first = {"HTTP_USER_AGENT": "t"}  # where Flask's test client puts it, before the given headers
    path = "/data/v1/customobjects?$search="
    tenant.call("GET", path, headers=sent)
    (entry,) = journal(client, tenant=tenant.id, path="/data/*")
    environ = EnvironBuilder(path=path, method="GET", headers={**tenant.headers(), **sent}, environ_base=first)
    environ = environ.get_environ()
    listed = list(EnvironHeaders(environ))
    assert entry["request_headers"] == {
        **dict(listed),
        "Authorization": "Bearer …",
        "X-Emulator-Admin-Token": "…",
    }
    assert list(entry["request_headers"]) == [name for name, _value in listed]
    assert "Content-Length" not in entry["request_headers"] and entry["request_headers"]["X-Lower-Case"] == "v"

    many = {f"X-Header-{i:02}": str(i) for i in range(40)} | {"User-Agent": "t"}
    body = [{"keys": {"Contact Key": "h"}, "values": {"Email": "a@b.co"}}]
    assert tenant.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=body, headers=many).status_code == 200
    (entry,) = journal(client, tenant=tenant.id, path="/hub/*")
    environ = EnvironBuilder(
        path="/hub/v1/dataevents/key:identify/rowset",
        method="POST",
        json=body,
        headers={**tenant.headers(), **many},
        environ_base=first,
    ).get_environ()
    listed = list(EnvironHeaders(environ))[:30]
    assert list(entry["request_headers"]) == [name for name, _value in listed]
    assert entry["request_headers"]["Content-Type"] == "application/json"


FIELDS = [
    "tenant",
    "mid",
    "method",
    "host",
    "path",
    "query",
    "route",
    "status",
    "latency_ms",
    "request_headers",
    "request_body",
    "request_body_truncated",
    "response_body",
    "response_body_truncated",
    "keys_ignored",
    "rules_broken",
    "rows_written",
    "fault",
    "soap",
]


def test_entries_read_back_as_recorded_and_their_bytes_are_counted_as_read(client, tenant):
    """Entries are kept raw and built when read: every way of reading one shows the same entry, in the
    same field order, bodies decoded as UTF-8 (bad bytes replaced), the query as sent, and the byte
    count the metric shows is what the entries a reader gets hold (``entry_bytes``)."""
    tenant.get_token()  # a token call: its secrets and tokens hidden
    bad_utf8 = b'[{"keys": {"Contact Key": "\xff\xfe"}, "values": {"First Name": "Zo\xc3\xab \xe2\x82\xac"}}]'
    rowset = "/hub/v1/dataevents/key:identify/rowset"
    headers = {"Content-Type": "application/json", "X-Trace": "t" * 3_000}
    tenant.call("POST", rowset, data=bad_utf8, headers=headers)
    tenant.rowset("identify", [{"keys": {"Contact Key": "x"}, "values": {"Email": "not-an-email"}}])
    tenant.call("GET", "/data/v1/customobjects?$search=&name=%C3%A9")
    items = journal(client, tenant=tenant.id)
    assert [e["status"] for e in items] == [200, 400, 400, 200]
    for entry in items:
        assert list(entry)[: len(FIELDS)] == FIELDS and set(entry) == {*FIELDS, "id", "at"}
        assert client.get(f"/_emulator/journal/{entry['id']}").get_json() == entry
    listing, refused, odd, token = items
    assert listing["query"] == "$search=&name=%C3%A9" and listing["request_body"] is None
    assert "\ufffd\ufffd" in odd["request_body"] and "Zoë €" in odd["request_body"]
    assert odd["request_headers"]["X-Trace"].endswith("(3000 characters)")
    assert any("Email" in rule for rule in refused["rules_broken"]) and refused["rows_written"] == 0
    assert tenant.token not in token["response_body"] and '"access_token": "***"' in token["response_body"]
    assert journal(client, body_contains="Zoë") == [odd]
    metrics = client.get("/_emulator/metrics").get_data(as_text=True)
    held = next(line.split()[1] for line in metrics.splitlines() if line.startswith("sfmc_emulator_journal_bytes "))
    assert float(held) == sum(entry_bytes(e) for e in items)


def test_headers_are_read_afresh_from_each_environ_whatever_its_keys_share_with_the_last():
    """The journal remembers which environ keys are headers per sequence of keys; the values, the
    order and the header set are still each request's own, as werkzeug's ``EnvironHeaders`` lists them."""
    from emulator.domain.journal import request_headers

    def expected(environ):
        return {name: value for name, value in EnvironHeaders(environ) if name != "Authorization"}

    base = EnvironBuilder(path="/x", method="POST", data=b"{}", content_type="application/json").get_environ()
    first = {**base, "HTTP_X_ONE": "1", "HTTP_AUTHORIZATION": "Bearer a", "HTTP_X_TWO": "2"}
    second = {**base, "HTTP_X_ONE": "one", "HTTP_AUTHORIZATION": "Basic b", "HTTP_X_TWO": "two"}  # the same keys
    reordered = {"HTTP_X_TWO": "2", **base, "HTTP_X_ONE": "1"}
    fewer = {**base, "HTTP_X_TWO": "2"}
    for environ in (first, second, first, reordered, fewer, reordered):
        headers, size = request_headers(environ)
        shown = {name: value for name, value in headers.items() if name != "Authorization"}
        assert shown == expected(environ) and list(shown) == list(expected(environ))
        assert size == sum(len(k) + len(v) for k, v in headers.items())
    assert request_headers(first)[0]["Authorization"] == "Bearer …"
    assert request_headers(second)[0]["Authorization"] == "Basic …"
    assert request_headers(second)[0]["X-One"] == "one"
