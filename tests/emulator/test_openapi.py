"""The OpenAPI document: served, complete (every route documented, every documented route real) and enforced."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.openapi import flask_to_openapi, surely_valid_check

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "options"}


def test_every_route_is_documented_and_every_documented_route_exists(app, client):
    document = client.get("/_emulator/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    live = {
        (method.lower(), flask_to_openapi(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods
        if method.lower() in HTTP_METHODS
    }
    documented = {
        (method, path) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }
    assert live - documented == set(), "routes missing from the OpenAPI document"
    assert documented - live == set(), "documented operations the emulator does not serve"


def test_every_reference_resolves_and_path_parameters_are_declared(client):
    document = client.get("/_emulator/openapi.json").get_json()
    text = str(document)
    for ref in set(re.findall(r"'\$ref': '#/([^']+)'", text)):
        node = document
        for part in ref.split("/"):
            node = node[part]
    for path, item in document["paths"].items():
        declared = {p["name"] for p in item.get("parameters", [])}
        assert declared == set(re.findall(r"{([^}]+)}", path)), path
        for method, operation in item.items():
            if method in HTTP_METHODS:
                assert operation["responses"] and operation["summary"], (method, path)


def test_a_body_failing_its_schema_gets_the_sfmc_envelope(client, tenant):
    response = client.post("/_emulator/tenants", json={"id": "x1", "settings": "fast", "data_extensions": {}})
    body = response.get_json()
    assert response.status_code == 400 and body["errorcode"] == 10003
    assert {e["message"].split(":")[0] for e in body["additionalErrors"]} == {"settings", "data_extensions"}
    clock = client.post("/_emulator/clock", json={"freeze": "yes"})
    assert clock.status_code == 400 and clock.get_json()["errorcode"] == 10003
    created = tenant.call("POST", "/data/v1/customobjects", json={"name": "X", "fields": "Email"})
    assert created.status_code == 400 and created.get_json()["errorcode"] == 10003
    assert "fields" in created.get_json()["message"]
    row = tenant.call("PUT", "/hub/v1/dataevents/key:identify/rows/Contact Key:a", json={"values": [1]})
    assert row.status_code == 400 and row.get_json()["errorcode"] == 10003


def test_the_token_body_is_validated_in_the_oauth_envelope(client, tenant):
    response = client.post(
        "/v2/token",
        json={"grant_type": "client_credentials", "client_id": {"a": 1}, "client_secret": tenant.client_secret},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request" and "client_id" in response.get_json()["error_description"]


def test_bodies_that_do_not_parse_keep_the_routes_own_errors(tenant):
    response = tenant.call("POST", "/hub/v1/dataevents/key:identify/rowset", data="[", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["errorcode"] == 10004
    empty = tenant.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=[])
    assert empty.status_code == 400 and empty.get_json()["errorcode"] == 10002


# SFMC calls that need a valid token but no particular scope (the SOAP service checks per object)
SCOPE_FREE = {("post", "/Service.asmx"), ("get", "/platform/v1/endpoints/soap")}


def test_every_sfmc_route_declares_the_scope_the_chain_enforces(app, client):
    """The scope in the document and the one the request chain checks come from one declaration."""
    document = client.get("/_emulator/openapi.json").get_json()
    table = app.extensions["sfmc_routes"]
    for route in table.routes:
        path = flask_to_openapi(route.rule)
        documented = document["paths"][path][route.method]
        assert documented.get("x-required-scope") == route.scope == table.scope(route.endpoint)
        bearer = {"bearer": []} in documented.get("security", [])
        if bearer and (route.method, path) not in SCOPE_FREE:
            assert route.scope, f"{route.method} {route.rule} needs no scope"


def test_a_token_without_the_declared_scope_is_refused(client, tenant):
    narrow = client.post(
        "/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": "data_extensions_read",
        },
    )
    assert narrow.status_code == 200, narrow.get_json()
    headers = {"Authorization": f"Bearer {narrow.get_json()['access_token']}"}
    write = client.post("/hub/v1/dataevents/key:identify/rowset", json=[], headers=headers)
    assert write.status_code == 403
    read = client.get("/data/v1/customobjectdata/key/identify/rowset", headers=headers)
    assert read.status_code == 200


# property names of the schemas, so the generated objects reach their nested checks
NAMES = ["keys", "values", "items", "fields", "name", "type", "n", "client_id", "members", "Data", "rate_limit"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES), inner, max_size=4),
    max_leaves=12,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON_VALUES)
def test_the_fast_body_check_never_accepts_what_jsonschema_refuses(app, body):
    # the fast check may only spare jsonschema's work: every body it passes, jsonschema passes too
    openapi = app.extensions["sfmc_routes"].openapi
    for route, (validator, _envelope) in openapi._validators.items():
        if openapi._surely_valid[route](body):
            assert validator.is_valid(body), (route, body)


def test_the_fast_body_check_passes_the_common_valid_bodies_and_leaves_others_to_jsonschema():
    rowset = surely_valid_check({"type": "array", "items": {"type": "object"}})
    assert rowset([{"keys": {"Id": "1"}, "values": {}}] * 50)
    assert not rowset([{"keys": {}}, "not an object"])
    assert not rowset({"keys": {}})
    typed = surely_valid_check({"type": "object", "properties": {"n": {"type": ["integer", "null"]}}})
    assert typed({"n": 3}) and typed({"n": None}) and typed({"other": "x"})
    assert not typed({"n": True}) and not typed({"n": 3.0})  # 3.0 is left to jsonschema, which accepts it
    assert not surely_valid_check({"type": "string", "pattern": "^a"})("abc")  # a keyword it does not know


def _concrete(path: str, tenant) -> str:
    """A documented path with values that reach this tenant's objects."""
    if "{request_id}" in path:
        accepted = tenant.call("POST", "/data/v1/async/dataextensions/key:identify/rows", json={"items": [{"a": 1}]})
        path = path.replace("{request_id}", accepted.get_json()["requestId"])
    if "{token}" in path:
        first = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset")
        path = path.replace("{token}", first.get_json()["requestToken"])
    de = tenant.call("GET", "/data/v1/customobjects/key:identify").get_json()
    return path.replace("{key}", "identify").replace("{de_id}", de["id"]).replace("{tenant_id}", tenant.id)


def test_page_parameters_are_documented_as_bounded_integers_and_refused_otherwise(client, tenant):
    document = client.get("/_emulator/openapi.json").get_json()
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter["name"] not in ("$page", "$pageSize"):
                    continue
                schema = parameter["schema"]
                assert schema["type"] == "integer" and schema["minimum"] == 1, (path, parameter)
                url = _concrete(path, tenant)
                sep = "&" if "?" in url else "?"
                if path == "/data/v1/customobjects":
                    url += "?$search="
                    sep = "&"
                fine = tenant.call(method.upper(), f"{url}{sep}{parameter['name']}={schema['maximum']}")
                assert fine.status_code == 200, (path, parameter["name"], fine.get_json())
                for bad in (
                    "1.5",
                    "abc",
                    "0",
                    "-1",
                    str(schema["maximum"] + 1),
                    "",
                    "%202",
                    "%2B2",
                    "1_0",
                    "%D9%A2",
                    "9" * 40,
                ):
                    if bad == "":
                        continue  # an empty value means the default
                    answer = tenant.call(method.upper(), f"{url}{sep}{parameter['name']}={bad}")
                    assert answer.status_code == 400, (path, parameter["name"], bad)
                    body = answer.get_json()
                    if operation["x-error-envelope"] == "async":
                        assert body["resultMessages"][0]["resultClass"] == "Error", body
                    else:
                        assert body["errorcode"] == 10001 and "$page" in body["message"], body
                checked += 1
    assert checked >= 9  # rows by key and id, next pages, DE list, event definitions, async results
