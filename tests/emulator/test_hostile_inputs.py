"""A catalogue of hostile requests: each one gets an SFMC-shaped 4xx, quickly, and changes nothing of
another tenant.

Every case is sent by tenant ``a`` (its own valid token on SFMC routes) while tenant ``b`` holds rows,
an event definition and a contact; after the answer, ``b``'s state must be exactly what it was.
Cases named ``D<n>`` are the defects found in the reliability review; the rest push the same edges
further (numbers, text that is not valid Unicode, nesting, sizes, cross-site control-plane calls).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import make_tenant
from tests.fixtures import IDENTIFY_DE, IDENTIFY_FIELDS

TIME_BUDGET = 3.0  # seconds; generous for a loaded CI machine, far below any runaway computation
EVENT_DE = {"key": "registered", "name": "Registered", "fields": IDENTIFY_FIELDS[:4]}
DEFINITION = {"key": "APIEvent-b", "name": "B", "data_extension": "registered"}
ROWSET = "/hub/v1/dataevents/key:identify/rowset"
READ = "/data/v1/customobjectdata/key/identify/rowset"


def row(**values) -> list:
    return [{"keys": {"Contact Key": values.pop("key", "u1")}, "values": values}]


def raw_json(text: str) -> dict:
    return {"data": text.encode("utf-8", "surrogatepass"), "content_type": "application/json"}


def nested(depth: int) -> str:
    return "(" * depth + "Email eq 'a'" + ")" * depth


ALIAS_BOMB = "\n".join(  # 283 bytes that stand for 9**9 strings once anything walks the document
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    + ["tenants: *i"]
)

# (name, method, path, request kwargs, who: "sfmc" sends a's bearer token, "admin" sends nothing extra)
CASES = [
    # D1: numbers bounded before conversion
    ("D1 5000-digit Number in a rowset", "POST", ROWSET, {"json": row(Age="9" * 5000)}, "sfmc"),
    (
        "D1 5000-digit Number in a row PUT",
        "PUT",
        "/hub/v1/dataevents/key:identify/rows/Contact Key:u1",
        {"json": {"values": {"Age": "9" * 5000}}},
        "sfmc",
    ),
    (
        "Number as 1e400 (infinite)",
        "POST",
        ROWSET,
        raw_json('[{"keys":{"Contact Key":"u"},"values":{"Age":1e400}}]'),
        "sfmc",
    ),
    ("Number with 400-digit float", "POST", ROWSET, {"json": row(Age=float("1" + "0" * 300))}, "sfmc"),
    ("Decimal with 5000 digits", "POST", ROWSET, {"json": row(Score="1" * 5000)}, "sfmc"),
    ("Decimal with a huge exponent", "POST", ROWSET, {"json": row(Score="1e999999999")}, "sfmc"),
    ("Decimal NaN text", "POST", ROWSET, {"json": row(Score="NaN")}, "sfmc"),
    ("Date with 5000 digits", "POST", ROWSET, {"json": row(**{"Created At": "2" * 5000})}, "sfmc"),
    ("Boolean as an object", "POST", ROWSET, {"json": row(**{"Opted In": {"x": 1}})}, "sfmc"),
    ("NaN literal in JSON", "POST", ROWSET, raw_json('[{"keys":{"Contact Key":"u"},"values":{"Age":NaN}}]'), "sfmc"),
    # D2: text that is not valid Unicode
    ("D2 lone surrogate in a row key", "POST", ROWSET, raw_json('[{"keys":{"Contact Key":"\\ud800"}}]'), "sfmc"),
    (
        "lone surrogate in a value",
        "POST",
        ROWSET,
        raw_json('[{"keys":{"Contact Key":"u"},"values":{"First Name":"\\udfff"}}]'),
        "sfmc",
    ),
    (
        "lone surrogate in a column name",
        "POST",
        ROWSET,
        raw_json('[{"keys":{"Contact Key":"u"},"values":{"\\ud800":"x"}}]'),
        "sfmc",
    ),
    (
        "D2 lone surrogate in a contact key",
        "POST",
        "/contacts/v1/contacts",
        raw_json('{"contactKey":"\\ud800","attributeSets":[]}'),
        "sfmc",
    ),
    (
        "lone surrogate in an event contact key",
        "POST",
        "/interaction/v1/events",
        raw_json('{"ContactKey":"\\ud800","EventDefinitionKey":"x","Data":{}}'),
        "sfmc",
    ),
    (
        "lone surrogate in a DE name",
        "POST",
        "/data/v1/customobjects",
        raw_json('{"name":"\\ud800","fields":[{"name":"A","type":"Text"}]}'),
        "sfmc",
    ),
    ("$filter of 100 KB", "GET", READ + "?$filter=Email eq '" + "x" * 100000 + "'", {}, "sfmc"),
    (
        "invalid UTF-8 in the body",
        "POST",
        ROWSET,
        {"data": b'[{"keys":{"Contact Key":"\xff\xfe"}}]', "content_type": "application/json"},
        "sfmc",
    ),
    # D3: $filter depth and size
    ("D3 $filter with 100 or-terms", "GET", READ + "?$filter=" + " or ".join(["Email eq 'a'"] * 100), {}, "sfmc"),
    ("D3 $filter nested 400 deep", "GET", READ + "?$filter=" + nested(400), {}, "sfmc"),
    ("$filter nested 5000 deep", "GET", READ + "?$filter=" + nested(5000), {}, "sfmc"),
    ("$filter with 1000 and-terms", "GET", READ + "?$filter=" + " and ".join(["Email eq 'a'"] * 1000), {}, "sfmc"),
    ("$filter unterminated string", "GET", READ + "?$filter=Email eq 'a", {}, "sfmc"),
    ("$filter on an unknown column", "GET", READ + "?$filter=Nope eq 'a'", {}, "sfmc"),
    # $page and $pageSize
    ("$page not a whole number", "GET", READ + "?$page=1.5", {}, "sfmc"),
    ("$page negative", "GET", READ + "?$page=-1", {}, "sfmc"),
    ("$page of 30 digits", "GET", READ + "?$page=" + "9" * 30, {}, "sfmc"),
    ("$page of 5000 digits", "GET", READ + "?$page=" + "9" * 5000, {}, "sfmc"),
    ("$pageSize zero", "GET", READ + "?$pageSize=0", {}, "sfmc"),
    ("$pageSize text", "GET", READ + "?$pageSize=abc", {}, "sfmc"),
    ("$pageSize huge on customobjects", "GET", "/data/v1/customobjects?$search=&$pageSize=99999999", {}, "sfmc"),
    ("$page on event definitions", "GET", "/interaction/v1/eventDefinitions?$page=0x10", {}, "sfmc"),
    # D4 and other definition numbers
    (
        "D4 categoryId text",
        "POST",
        "/data/v1/customobjects",
        {"json": {"name": "X", "categoryId": "abc", "fields": [{"name": "A"}]}},
        "sfmc",
    ),
    (
        "categoryId 1e30",
        "POST",
        "/data/v1/customobjects",
        {"json": {"name": "X", "categoryId": 1e30, "fields": [{"name": "A"}]}},
        "sfmc",
    ),
    (
        "categoryId negative",
        "POST",
        "/data/v1/customobjects",
        {"json": {"name": "X", "categoryId": -1, "fields": [{"name": "A"}]}},
        "sfmc",
    ),
    (
        "field length infinite",
        "POST",
        "/data/v1/customobjects",
        raw_json('{"name":"X","fields":[{"name":"A","type":"Text","length":1e999}]}'),
        "sfmc",
    ),
    (
        "field length of 5000 digits",
        "POST",
        "/data/v1/customobjects",
        {"json": {"name": "X", "fields": [{"name": "A", "type": "Text", "length": "9" * 5000}]}},
        "sfmc",
    ),
    (
        "field scale NaN text",
        "POST",
        "/data/v1/customobjects",
        {"json": {"name": "X", "fields": [{"name": "A", "type": "Decimal", "scale": "nan"}]}},
        "sfmc",
    ),
    (
        "field name of 10000 characters",
        "POST",
        "/data/v1/customobjects",
        {"json": {"name": "X", "fields": [{"name": "A" * 10000}]}},
        "sfmc",
    ),
    (
        "fields as an object",
        "POST",
        "/data/v1/customobjects/key:identify/fields",
        {"json": {"fields": {"a": 1}}},
        "sfmc",
    ),
    # D5 and contacts
    ("D5 contactID infinite", "PATCH", "/contacts/v1/contacts", raw_json('{"contactID": 1e999}'), "sfmc"),
    ("contactID text", "PATCH", "/contacts/v1/contacts", {"json": {"contactID": "abc"}}, "sfmc"),
    ("contactID of 5000 digits", "PATCH", "/contacts/v1/contacts", {"json": {"contactID": "9" * 5000}}, "sfmc"),
    ("contactID 2**70", "PATCH", "/contacts/v1/contacts", {"json": {"contactID": 2**70}}, "sfmc"),
    ("contact key as an object", "POST", "/contacts/v1/contacts", {"json": {"contactKey": {"a": 1}}}, "sfmc"),
    # bodies and paths
    ("JSON nested 100000 deep", "POST", ROWSET, raw_json("[" * 100000 + "]" * 100000), "sfmc"),
    (
        "event data nested 5000 deep",
        "POST",
        "/interaction/v1/events",
        raw_json('{"ContactKey":"u","EventDefinitionKey":"x","Data":' + '{"a":' * 5000 + "1" + "}" * 5001),
        "sfmc",
    ),
    ("rowset body is a string", "POST", ROWSET, {"json": "rows"}, "sfmc"),
    ("row key is a number 1e999", "POST", ROWSET, raw_json('[{"keys":{"Contact Key":1e999}}]'), "sfmc"),
    (
        "row path without a colon",
        "PUT",
        "/hub/v1/dataevents/key:identify/rows/nocolon",
        {"json": {"values": {}}},
        "sfmc",
    ),
    (
        "row path key of 10000 characters",
        "PUT",
        "/hub/v1/dataevents/key:identify/rows/Contact Key:" + "x" * 10000,
        {"json": {"values": {}}},
        "sfmc",
    ),
    ("DE id that is not a GUID", "GET", "/data/v1/customobjects/" + "z" * 36, {}, "sfmc"),
    ("async status of a 10000-char id", "GET", "/data/v1/async/" + "x" * 10000 + "/status", {}, "sfmc"),
    (
        "async rows with items as an object",
        "POST",
        "/data/v1/async/dataextensions/key:identify/rows",
        {"json": {"items": {"a": 1}}},
        "sfmc",
    ),
    (
        "event definition with an infinite DE id",
        "POST",
        "/interaction/v1/eventDefinitions",
        raw_json('{"eventDefinitionKey":"k","dataExtensionId":1e999}'),
        "sfmc",
    ),
    (
        "bearer token of 100 KB",
        "GET",
        "/data/v1/customobjects",
        {"headers": {"Authorization": "Bearer " + "x" * 100000}},
        "anonymous",
    ),
    (
        "token call with client_id an object",
        "POST",
        "/v2/token",
        {"json": {"grant_type": "client_credentials", "client_id": {"a": 1}, "client_secret": "x"}},
        "anonymous",
    ),
    ("token call as a JSON array", "POST", "/v2/token", {"json": [1, 2]}, "anonymous"),
    (
        "token call with a lone surrogate",
        "POST",
        "/v2/token",
        raw_json('{"grant_type":"client_credentials","client_id":"\\ud800","client_secret":"x"}'),
        "anonymous",
    ),
    # D8: the clock
    ("D8 clock advance NaN", "POST", "/_emulator/clock", {"json": {"advance": "nan"}}, "admin"),
    ("clock advance infinite", "POST", "/_emulator/clock", {"json": {"advance": "inf"}}, "admin"),
    ("clock advance 1e300", "POST", "/_emulator/clock", {"json": {"advance": 1e300}}, "admin"),
    ("clock advance before 1970", "POST", "/_emulator/clock", {"json": {"advance": -1e12}}, "admin"),
    ("clock advance of 5000 digits", "POST", "/_emulator/clock", {"json": {"advance": "9" * 5000}}, "admin"),
    # D9: the journal
    ("D9 journal path regex", "GET", "/_emulator/journal?path_regex=^/(a%2B)%2B$", {}, "admin"),
    ("journal since NaN", "GET", "/_emulator/journal?since=nan", {}, "admin"),
    # fault rules: a path_regex searched on every request may not backtrack without bound
    (
        "fault path_regex nested repeat",
        "POST",
        "/_emulator/faults",
        {"json": {"kind": "drop", "path_regex": "^/(a+)+$"}},
        "admin",
    ),
    (
        "fault path_regex repeated alternation",
        "POST",
        "/_emulator/faults",
        {"json": {"kind": "drop", "path_regex": "(a|aa)*$"}},
        "admin",
    ),
    (
        "fault path_regex two unbounded repeats",
        "POST",
        "/_emulator/faults",
        {"json": {"kind": "drop", "path_regex": ".*a.*a.*b"}},
        "admin",
    ),
    (
        "fault path_regex backreference",
        "POST",
        "/_emulator/faults",
        {"json": {"kind": "drop", "path_regex": "(a)\\1"}},
        "admin",
    ),
    ("journal since_id of 5000 digits", "GET", "/_emulator/journal?since_id=" + "9" * 5000, {}, "admin"),
    ("journal limit negative", "GET", "/_emulator/journal?limit=-1", {}, "admin"),
    ("journal count with status text", "POST", "/_emulator/journal/count", {"json": {"status": "abc"}}, "admin"),
    # D10: YAML
    (
        "D10 YAML alias bomb",
        "POST",
        "/_emulator/scenarios",
        {"data": ALIAS_BOMB, "content_type": "application/yaml"},
        "admin",
    ),
    (
        "YAML python tag",
        "POST",
        "/_emulator/scenarios",
        {"data": "tenants: !!python/object/apply:os.system ['true']", "content_type": "application/yaml"},
        "admin",
    ),
    (
        "YAML nested 10000 deep",
        "POST",
        "/_emulator/scenarios",
        {"data": "[" * 10000 + "]" * 10000, "content_type": "application/yaml"},
        "admin",
    ),
    # tenants and settings
    ("tenant rate limit NaN", "POST", "/_emulator/tenants", raw_json('{"settings":{"rate_limit":NaN}}'), "admin"),
    (
        "tenant rate limit infinite",
        "POST",
        "/_emulator/tenants",
        raw_json('{"settings":{"rate_limit":1e999}}'),
        "admin",
    ),
    (
        "settings token lifetime text inf",
        "PATCH",
        "/_emulator/tenants/b/settings",
        {"json": {"token_lifetime": "inf"}},
        "admin",
    ),
    ("scenario choosing b's DE id", "POST", "/_emulator/tenants", {"json": "steal-de"}, "admin"),
    ("fault with status 99999", "POST", "/_emulator/faults", {"json": {"kind": "error", "status": 99999}}, "admin"),
    ("fault latency of a day", "POST", "/_emulator/faults", {"json": {"kind": "latency", "delay": 86400}}, "admin"),
    (
        "admin rows page size huge",
        "GET",
        "/_emulator/tenants/b/data-extensions/identify/rows?page_size=" + "9" * 40,
        {},
        "admin",
    ),
    # D11: cross-site requests to the control plane
    (
        "D11 cross-site form POST to reset",
        "POST",
        "/_emulator/reset",
        {
            "data": "x=1",
            "content_type": "application/x-www-form-urlencoded",
            "headers": {"Origin": "http://evil.example"},
        },
        "admin",
    ),
    (
        "cross-site text/plain POST of a tenant",
        "POST",
        "/_emulator/tenants",
        {"data": '{"id": "x"}', "content_type": "text/plain", "headers": {"Origin": "http://evil.example"}},
        "admin",
    ),
    (
        "cross-site JSON DELETE of b",
        "DELETE",
        "/_emulator/tenants/b",
        {"headers": {"Origin": "http://evil.example"}},
        "admin",
    ),
    (
        "form POST without Origin to reset b",
        "POST",
        "/_emulator/tenants/b/reset",
        {"data": "x=1", "content_type": "application/x-www-form-urlencoded"},
        "admin",
    ),
]


@pytest.fixture
def world(client):
    a = make_tenant(client, id="a", data_extensions=[IDENTIFY_DE])
    b = make_tenant(
        client,
        id="b",
        data_extensions=[IDENTIFY_DE, EVENT_DE],
        event_definitions=[DEFINITION],
    )
    assert b.rowset("identify", row(key="b1", Email="b@example.com", Age=3)).status_code == 200
    assert b.call("POST", "/contacts/v1/contacts", json={"contactKey": "b1", "attributeSets": []}).status_code in (
        200,
        201,
    )
    return a, b


def snapshot(client, b) -> dict:
    out = {}
    for what in ("data-extensions", "event-definitions", "contacts"):
        response = client.get(f"/_emulator/tenants/{b.id}/{what}")
        assert response.status_code == 200
        out[what] = response.get_json()["items"]
    out["rows"] = b.rows("identify")
    out["settings"] = client.get(f"/_emulator/tenants/{b.id}").get_json()["settings"]
    return out


def sfmc_shaped(response) -> bool:
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return False
    return ("errorcode" in body and "message" in body) or "error" in body or "resultMessages" in body


@pytest.mark.parametrize("name,method,path,kwargs,who", CASES, ids=[c[0] for c in CASES])
def test_hostile_request_gets_an_sfmc_4xx_quickly_and_leaves_other_tenants_alone(
    client, world, name, method, path, kwargs, who
):
    a, b = world
    kwargs = dict(kwargs)
    if kwargs.get("json") == "steal-de":
        b_de = client.get("/_emulator/tenants/b/data-extensions").get_json()["items"][0]
        kwargs["json"] = {"id": "x", "data_extensions": [{"id": b_de["id"], "name": "X", "fields": [{"name": "A"}]}]}
    before = snapshot(client, b)
    headers = dict(kwargs.pop("headers", {}))
    if who == "sfmc":
        headers = {**a.headers(), **headers}
    started = time.perf_counter()
    response = client.open(path, method=method, headers=headers, **kwargs)
    elapsed = time.perf_counter() - started
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])
    assert sfmc_shaped(response), response.data[:300]
    assert b"Traceback" not in response.data and len(response.data) < 100_000
    assert elapsed < TIME_BUDGET, f"{name}: {elapsed:.1f} s"
    assert snapshot(client, b) == before
    # the emulator still serves both tenants normally afterwards
    assert b.call("GET", "/data/v1/customobjects?$search=").status_code == 200
    assert a.rowset("identify", row(key="after", Age=1)).status_code == 200


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 60
    assert {c[0].split()[0] for c in CASES} >= {"D1", "D2", "D3", "D4", "D5", "D8", "D9", "D10", "D11"}


def test_async_rows_with_a_lone_surrogate_fail_per_row_not_the_whole_job(client, world):
    """D2, async: the bad row is refused in the results; the job still completes with the good row."""
    a, _ = world
    body = '{"items":[{"Contact Key":"\\ud800"},{"Contact Key":"ok","Age":1}]}'
    response = a.call("POST", "/data/v1/async/dataextensions/key:identify/rows", **raw_json(body))
    if response.status_code == 400:  # refused whole at the edge is acceptable too
        assert sfmc_shaped(response)
        return
    assert response.status_code == 202
    request_id = response.get_json()["requestId"]
    deadline = time.time() + 20
    while time.time() < deadline:
        status = a.call("GET", f"/data/v1/async/{request_id}/status").get_json().get("status") or {}
        if status.get("requestStatus") in ("Complete", "Error"):
            break
        time.sleep(0.05)
    assert status["requestStatus"] == "Complete", status
    assert [r["Contact Key"] for r in a.rows("identify")] == ["ok"]


def test_a_clock_refusal_leaves_the_clock_usable(client, world):
    """D8: after a refused NaN, SFMC calls keep working (they answered 500 until a restart before)."""
    a, _ = world
    client.post("/_emulator/clock", json={"advance": "nan"})
    assert json.loads(client.get("/_emulator/clock").data)["now"] == pytest.approx(time.time(), abs=60)
    assert a.call("GET", "/data/v1/customobjects?$search=").status_code == 200
