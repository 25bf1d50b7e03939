"""JSON answers are written by orjson where it spells them exactly as ``json.dumps`` does: clients see the
same bytes as before (``ensure_ascii`` escapes, float spelling, compact separators, a final newline)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.json_provider import compact_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: json.dumps writes those
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-05, 4.5e-09, 1e16, 1e-4, 0.0001, -0.0, 5e-324, 1.5e300])
    | st.text()  # non-ASCII, control characters, DEL, U+2028 and lone surrogates included
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


def json_dumps_bytes(value) -> bytes:
    """What Flask's default provider writes for ``jsonify(value)`` outside debug mode, before the newline."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()


@settings(max_examples=400)
@given(value=VALUES)
def test_orjson_is_used_only_where_it_writes_the_same_bytes_as_json_dumps(value):
    fast = compact_json(value)
    assert fast is None or fast == json_dumps_bytes(value)


def test_plain_answers_take_the_fast_path_and_the_others_fall_back():
    assert compact_json({"a": [1, 2.5, "x"], "b": None}) == b'{"a":[1,2.5,"x"],"b":null}'
    for value in ("Zoë", "\x7f", 1e-05, 2**64, {1: "int key"}):
        assert compact_json(value) is None, value


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=VALUES)
def test_a_rowset_echo_is_byte_for_byte_what_json_dumps_writes(tenant, payload):
    # the payload under a key with no column: ignored by the write, echoed in the answer as sent
    body = [{"keys": {"Contact Key": "u1"}, "values": {"First Name": "Zoë", "payload": payload}}]
    data = json.dumps(body)
    response = tenant.call(
        "POST", "/hub/v1/dataevents/key:identify/rowset", data=data, headers={"Content-Type": "application/json"}
    )
    if any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(body, ensure_ascii=False)):
        assert response.get_json()["errorcode"] == 10004  # a lone surrogate is refused (test_hostile_inputs.py)
        return
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_data() == json_dumps_bytes(json.loads(data)) + b"\n"


def test_error_answers_keep_their_bytes(tenant):
    response = tenant.call("POST", "/hub/v1/dataevents/key:no-such-de/rowset", json=[{"keys": {"K": "é"}}])
    assert response.status_code == 404
    assert response.get_data() == json_dumps_bytes(response.get_json()) + b"\n"


def json_headers(response, content_type: str = "application/json") -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("Content-Length", str(len(response.get_data())))]


def test_json_answers_carry_jsonifys_bytes_status_and_headers(tenant_factory):
    """Views and error answers build their JSON response in one step; a client sees what ``jsonify``
    wrote: the same bytes, status, and headers in the same order (the 429 with its charset and Retry-After)."""
    tenant = tenant_factory(settings={"rate_limit": 1, "burst": 1})
    rowset = [{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@b.co"}}]
    answers = [tenant.rowset("identify", rowset), tenant.rowset("identify", rowset)]
    tenant.settings(rate_limit=0)
    answers.append(tenant.rowset("identify", [{"keys": {"Contact Key": "ü"}, "values": {"First Name": "Zoë"}}]))
    answers.append(tenant.rowset("identify", [{"keys": {"Contact Key": "u2"}, "values": {"Email": "bad"}}]))
    fields = [{"name": "Id", "fieldType": "Text", "isPrimaryKey": True, "isRequired": True}]
    definition = {"key": "made", "name": "Made", "fields": fields}
    answers.append(tenant.call("POST", "/data/v1/customobjects", json=definition))
    answers.append(tenant.call("GET", "/data/v1/customobjects/key:nothing"))
    assert [a.status_code for a in answers] == [200, 429, 200, 400, 201, 404]
    for answer in answers:
        assert answer.get_data() == json_dumps_bytes(answer.get_json()) + b"\n"
    ok, limited, fallback, refused, created, missing = answers
    for answer in (ok, fallback, refused, created, missing):
        assert list(answer.headers) == json_headers(answer)
    assert list(limited.headers) == [
        *json_headers(limited, "application/json; charset=utf-8"),
        ("Retry-After", limited.headers["Retry-After"]),
    ]
    assert limited.headers["Retry-After"].isdigit() and limited.get_json()["errorcode"] == 50100
    assert b"\\u00fc" in fallback.get_data() and refused.get_json()["additionalErrors"]
