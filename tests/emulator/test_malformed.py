"""Every malformed or hostile request gets an SFMC-shaped answer: never a 500, never a traceback."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = [
    ("POST", "/hub/v1/dataevents/key:identify/rowset"),
    ("PUT", "/hub/v1/dataevents/key:identify/rows/Contact Key:u1"),
    ("POST", "/data/v1/customobjects"),
    ("GET", "/data/v1/customobjectdata/key/identify/rowset"),
    ("POST", "/v2/token"),
    ("POST", "/v1/requestToken"),
    ("POST", "/_emulator/tenants"),
    ("POST", "/_emulator/scenarios"),
    ("PATCH", "/_emulator/tenants/x/settings"),
    ("POST", "/_emulator/clock"),
]


def assert_sfmc_shaped(response):
    assert response.status_code < 500, (response.status_code, response.data[:500])
    body = response.get_json(silent=True)
    assert isinstance(body, dict), response.data[:200]
    assert ("errorcode" in body and "message" in body) or "error" in body or response.status_code < 300
    assert b"Traceback" not in response.data


def test_unparseable_json_is_10004(tenant):
    response = tenant.call(
        "POST", "/hub/v1/dataevents/key:identify/rowset", data="[{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.get_json()["errorcode"] == 10004


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(tenant, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    response = tenant.call("POST", "/hub/v1/dataevents/key:identify/rowset", data="[]", **kwargs)
    assert response.status_code == 415
    assert "application/json" in response.get_json()["message"]


def test_payload_over_5_mb_is_refused_in_the_envelope(tenant):
    row = {"keys": {"Contact Key": "u"}, "values": {"First Name": "x" * 1000}}
    body = json.dumps([row] * 5300)
    assert len(body) > 5 * 1024 * 1024
    response = tenant.call("POST", "/hub/v1/dataevents/key:identify/rowset", data=body, content_type="application/json")
    assert response.status_code == 413
    assert "5 MB" in response.get_json()["message"]
    assert tenant.rows("identify") == []


@pytest.mark.parametrize(
    "body,code",
    [
        ("{}", 10003),
        ("[]", 10002),
        ("[1]", 10003),
        ('["x"]', 10003),
        ("NaN", 10004),
        ("[Infinity]", 10004),
        ('[{"keys": [], "values": {}}]', 10006),
        ('[{"keys": {"Contact Key": "a"}, "values": 5}]', 10006),
        ("[" * 100000 + "]" * 100000, 10004),
    ],
)
def test_malformed_rowsets(tenant, body, code):
    response = tenant.call("POST", "/hub/v1/dataevents/key:identify/rowset", data=body, content_type="application/json")
    assert response.status_code == 400, response.data[:300]
    assert response.get_json()["errorcode"] == code


def test_unknown_route_and_method(tenant, client):
    missing = tenant.call("GET", "/hub/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["errorcode"] == 404
    wrong_method = tenant.call("DELETE", "/hub/v1/dataevents/key:identify/rowset")
    assert wrong_method.status_code == 405 and "message" in wrong_method.get_json()


def test_invalid_utf8_and_binary_bodies(tenant, client):
    for data in (b"\xff\xfe\x00garbage", b"\x00" * 64):
        for method, path in ROUTES:
            response = tenant.call(method, path, data=data, content_type="application/json")
            assert_sfmc_shaped(response)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values, route=st.sampled_from(ROUTES))
def test_random_json_bodies_never_break_the_emulator(tenant, body, route):
    method, path = route
    response = tenant.call(method, path, json=body)
    assert_sfmc_shaped(response)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "keys": st.dictionaries(
                    st.sampled_from(["Contact Key", "contact key", "Email", "x"]), json_values, max_size=2
                ),
                "values": st.dictionaries(
                    st.sampled_from(
                        ["Age", "Score", "Created At", "Opted In", "Email", "Locale", "Phone", "First Name", "zz"]
                    ),
                    json_values,
                    max_size=5,
                ),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_random_rows_get_200_or_10006(tenant, rows):
    response = tenant.rowset("identify", rows)
    assert response.status_code in (200, 400), response.data[:300]
    if response.status_code == 400:
        assert response.get_json()["errorcode"] == 10006


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segment=st.text(max_size=40), query=st.text(max_size=40))
def test_hostile_paths_and_queries(tenant, segment, query):
    segment = quote(segment, safe=":/%$&,;=+@")  # as a client sends it: '?' and '#' cannot be in a path
    for path in (
        f"/hub/v1/dataevents/{segment}/rowset",
        f"/data/v1/customobjects/{segment}",
        f"/data/v1/customobjectdata/key/{segment}/rowset",
    ):
        response = tenant.call(
            "GET" if "data/v1" in path else "POST", path, json=[], query_string={"$filter": query, "$page": query}
        )
        assert_sfmc_shaped(response)


def test_405_names_the_allowed_methods_and_the_token_route_answers_in_oauth_terms(tenant, client):
    """Issue D15: 405s had no Allow header, and the token route's 405 was not an OAuth error."""
    wrong = tenant.call("DELETE", "/hub/v1/dataevents/key:identify/rowset")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert wrong.get_json()["errorcode"] == 405 and "POST" in wrong.get_json()["message"]
    token = client.get("/v2/token")
    assert token.status_code == 405 and token.headers["Allow"] == "POST"
    assert token.get_json()["error"] == "invalid_request" and "error_description" in token.get_json()
    rows = tenant.call("PATCH", "/data/v1/customobjectdata/key/identify/rowset")
    assert rows.status_code == 405 and set(rows.headers["Allow"].split(", ")) >= {"GET"}
