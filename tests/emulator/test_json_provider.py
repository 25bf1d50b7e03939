"""JSON answers are written by orjson where it spells them exactly as ``json.dumps`` does: clients see the
same bytes as before (``ensure_ascii`` escapes, float spelling, compact separators, a final newline)."""

from __future__ import annotations

import json
import re
import socket

import requests
from flask import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.clock import Clock
from emulator.json_provider import _SPELLED_DIFFERENTLY, JSONAnswer, compact_json, spelled_differently
from emulator.launcher import ThreadedEmulator
from tests.fixtures import IDENTIFY_DE

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


@settings(max_examples=600)
@given(
    text=st.lists(
        st.sampled_from([b"0", b"7", b"e", b"e-", b".", b".0", b"0000", b"-", b'"', b"x", b"E"]), max_size=30
    ).map(b"".join)
)
def test_the_quick_look_for_a_float_spelled_differently_agrees_with_the_pattern(text):
    # the substring searches that stand before the pattern never skip a text it matches
    assert spelled_differently(text) == (_SPELLED_DIFFERENTLY.search(text) is not None)


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


_GUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _raw_exchange(url: str, request: bytes) -> bytes:
    """One HTTP/1.1 request on its own connection and everything the server sends back, as bytes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            more = conn.recv(65536)
            assert more, f"the connection closed before the headers: {received!r}"
            received += more
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length and not request.startswith(b"HEAD"):
            more = conn.recv(65536)
            if not more:
                break
            body += more
        return head + b"\r\n\r\n" + body


def _request(method: str, path: str, token: str | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _wire(raw: bytes, same_length_only: bool) -> tuple[bytes, list[bytes], bytes | int]:
    """The status line, the header lines but Date's value, and the body with its ids as one placeholder (only
    its length where it holds a new token)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    body = _GUID.sub(b"(id)", body)
    status, *headers = head.split(b"\r\n")
    headers = [b"Date: (now)" if h.lower().startswith(b"date:") else h for h in headers]
    return status, headers, len(body) if same_length_only else body


def test_json_answers_on_the_wire_are_what_werkzeugs_response_sends():
    """The emulator's JSON answers (``JSONAnswer``) against the same app answering through werkzeug's own
    ``Response``, both served by waitress: the same status lines, headers in the same order and bytes."""
    servers = [ThreadedEmulator(Clock(), threads=2) for _ in range(2)]
    assert servers[0].app.json.answer_class is JSONAnswer
    servers[1].app.json.answer_class = Response  # the reference: werkzeug's own response object
    try:
        exchanges = []
        for server in servers:
            created = requests.post(
                f"{server.url}/_emulator/tenants",
                json={"id": "wire", "settings": {"rate_limit": 0}, "data_extensions": [IDENTIFY_DE]},
                timeout=10,
            )
            assert created.status_code == 201, created.text
            package = created.json()["packages"][0]
            credentials = {"client_id": package["client_id"], "client_secret": package["client_secret"]}
            token_body = json.dumps({"grant_type": "client_credentials", **credentials}).encode()
            token = requests.post(f"{server.url}/v2/token", data=token_body, timeout=10).json()["access_token"]
            rowset = "/hub/v1/dataevents/key:identify/rowset"
            good = json.dumps([{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@b.co", "First Name": "Zoë"}}])
            bad = json.dumps([{"keys": {"Contact Key": "u2"}, "values": {"Email": "not an email"}}])
            calls = [
                (_request("POST", rowset, token, good.encode()), False),  # 200, the rowset echo
                (_request("POST", rowset, token, bad.encode()), False),  # 400 with additionalErrors
                (_request("POST", "/hub/v1/dataevents/key:nothing/rowset", token, b"[]"), False),  # 404
                (_request("POST", rowset, None, good.encode()), False),  # 401
                (_request("GET", rowset, token), False),  # 405
                (_request("POST", "/v2/token", None, token_body), True),  # a new token each time
                (_request("GET", "/_emulator/health"), False),
                (_request("HEAD", "/_emulator/health"), False),  # headers only, werkzeug's own path
            ]
            answers = [_wire(_raw_exchange(server.url, raw), length) for raw, length in calls]
            requests.patch(
                f"{server.url}/_emulator/tenants/wire/settings", json={"rate_limit": 1, "burst": 1}, timeout=10
            )
            limited = [_raw_exchange(server.url, _request("POST", rowset, token, good.encode())) for _ in range(2)]
            answers += [_wire(raw, False) for raw in limited]  # a 200, then the 429 with Retry-After
            exchanges.append(answers)
    finally:
        for server in servers:
            server.stop()
    fast, reference = exchanges
    statuses = [status for status, _headers, _body in fast]
    assert [s.split(b" ")[1] for s in statuses] == [
        b"200",
        b"400",
        b"404",
        b"401",
        b"405",
        b"200",
        b"200",
        b"200",
        b"200",
        b"429",
    ]
    assert fast == reference
