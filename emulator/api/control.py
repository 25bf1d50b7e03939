"""The control-plane steps of the request chain in ``app.py``: admin token, faults, body validation, journal.

``app.py`` calls these in order; they are here so the chain itself stays readable. Nothing in this
module decides SFMC behaviour: fault rules, the journal and the counters are plain domain objects
on the ``Emulator``; this module only moves request data in and out of them.
"""

from __future__ import annotations

import json
import secrets
import time

from flask import Request, Response, g, request
from flask.ctx import _AppCtxGlobals
from waitress.channel import ClientDisconnected

from .. import errors
from ..core import Emulator
from ..domain.journal import (
    BODY_LIMIT,
    RawEntry,
    broken_rules,
    request_headers,
    soap_without_credentials,
    without_tokens,
)
from ..domain.stats import WriteCapture
from .common import parsed_json, reference, routes

DROP = "emulator.drop_connection"  # WSGI environ flag set when a fault drops the connection
PUBLIC_ADMIN = {"admin.health", "admin.openapi_document"}  # reachable without the admin token
SECRET_FIELDS = ("client_secret", "clientSecret", "refreshToken", "refresh_token")


# -- cross-site requests to the control plane -----------------------------------------------------

# The bodies a web page on another site can send without a CORS preflight (an HTML form, sendBeacon).
SIMPLE_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def refuse_cross_site() -> None:
    """The control plane answers only same-site callers: a page on another site must not reset or
    delete tenants through a visitor's browser (OWASP CSRF prevention: check the Origin header, and
    require a content type no form can send).

    Refused: a request whose ``Origin`` (or ``Sec-Fetch-Site: cross-site``) names another site, and an
    unsafe call whose body is form or plain text. The inspector, ``curl`` with a JSON or YAML content
    type, and the test clients are unaffected.
    """
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        host = origin.partition("://")[2].rstrip("/")
        if host.lower() != (request.host or "").lower():
            raise errors.cross_site(f"a request from {origin[:100]} (another site)")
    elif origin == "null" or request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise errors.cross_site("a request from another site")
    if request.method in UNSAFE_METHODS and request.mimetype in SIMPLE_CONTENT_TYPES:
        raise errors.cross_site(
            f"a {request.method} with a '{request.mimetype}' body (what an HTML form sends); "
            "send application/json (or application/yaml for scenarios)"
        )


# -- admin token ---------------------------------------------------------------------------------


def check_admin_token(emulator: Emulator) -> None:
    expected = emulator.config.admin_token
    if not expected or request.endpoint in PUBLIC_ADMIN or (request.endpoint or "").startswith("ui."):
        return
    given = request.headers.get("X-Emulator-Admin-Token") or ""
    authorization = request.headers.get("Authorization") or ""
    if not given and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise errors.admin_token_required()


# -- faults --------------------------------------------------------------------------------------


def apply_fault(
    emulator: Emulator, tenant_id: str | None, *, token_call: bool = False, req: Request | None = None
) -> Response | None:
    """Sleep for latency rules, then answer as the first matching rule says (or return None)."""
    if not emulator.faults.any_rules:
        return None  # no rule at all: nothing to match (the common case, asked on every call)
    if req is None:
        req = request._get_current_object()
    fault = emulator.faults.for_request(tenant_id, req.method, req.path, token_call=token_call)
    if fault.delay:
        time.sleep(fault.delay)  # real latency on purpose: the client's timeouts are what is tested
    rule = fault.rule
    if rule is None:
        return None
    g.fault = rule.id
    if rule.kind == "drop":
        req.environ[DROP] = True
        return Response(status=500)  # never sent: DropConnection closes the socket instead
    status, errorcode, message, retry_after = rule.answer()
    if "{de_id}" in message:
        message = message.replace("{de_id}", _de_id(emulator, tenant_id))
    raise errors.injected(status, errorcode, message, retry_after)


def _de_id(emulator: Emulator, tenant_id: str | None) -> str:
    """The id of the Data Extension the path names, as SFMC's 10006 message carries it."""
    raw = (request.view_args or {}).get("ref") or (request.view_args or {}).get("key") or ""
    ref = reference(raw)
    de = None
    if tenant_id and raw:
        de = emulator.find_data_extension(
            tenant_id, **({"key": ref.value} if ref.kind == "key" else {"de_id": ref.value})
        )
    return de.id if de else (ref.value or "00000000-0000-0000-0000-000000000000")


class DropConnection:
    """WSGI wrapper: when a fault flagged the request, close the TCP connection without any answer.

    Under waitress, raising its ``ClientDisconnected`` before anything is written makes the server
    close the socket with nothing sent, which is what a client sees when SFMC drops a connection
    (requests raises ``ConnectionError``). Other servers see the exception and abort the response.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def deferred(status, headers, exc_info=None):
            if environ.get(DROP):
                return lambda _data: None
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, deferred)
        if environ.get(DROP):
            if hasattr(result, "close"):
                result.close()
            raise ClientDisconnected("connection dropped by an emulator fault rule")
        return result


# -- request-body validation against the OpenAPI document ----------------------------------------


def validate_body(family: str, req: Request | None = None, state: _AppCtxGlobals | None = None) -> None:
    """Check a parseable JSON (or token form) body against the route's schema; bodies that do not parse
    are left to the route, which answers them with its established error (10004, 415, ...).

    ``req`` and ``state``: the request and ``g`` when the caller holds them (else the proxies are resolved)."""
    if req is None:
        req = request._get_current_object()
    url_rule = req.url_rule
    if req.method in ("GET", "HEAD", "DELETE", "OPTIONS") or url_rule is None:
        return
    mimetype = req.mimetype
    if mimetype == "application/json":
        parsed, body = parsed_json(req, state)
        if not parsed:
            return
    elif family == "auth" and mimetype == "application/x-www-form-urlencoded":
        body = req.form.to_dict()
    else:
        return
    try:
        problems, envelope = routes().body_problems(req.method, url_rule.rule, body)
    except RecursionError:
        return
    if not problems:
        return
    if envelope == "oauth":
        raise errors.oauth_invalid_request("The request body is not valid: " + "; ".join(problems))
    if envelope == "async":
        raise errors.async_invalid_request("The request body is not valid: " + "; ".join(problems))
    raise errors.invalid_body(problems)


# -- the journal ---------------------------------------------------------------------------------


def start_journal(emulator: Emulator) -> None:
    state = g._get_current_object()  # the proxy resolved once
    state.journal_started = time.perf_counter()
    state.write_capture = WriteCapture()  # the view hands it to the row writer (common.write_capture)


def tenant_of_token_call(emulator: Emulator) -> str | None:
    """Token calls carry no bearer token: their tenant is the one owning the client id, if any."""
    try:
        data = request.get_data(cache=True)  # before any form parsing, so the journal still sees the body
        if request.mimetype == "application/x-www-form-urlencoded":
            body = request.form.to_dict()
        else:
            body = json.loads(data or b"null")
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    client_id = body.get("client_id") or body.get("clientId")
    tenant = emulator.tenants.of_client(client_id) if isinstance(client_id, str | int) else None
    return tenant.id if tenant else None


def _redacted(data: bytes, req: Request) -> bytes:
    """Token-call bodies without their secrets: the journal is readable by anyone with admin access."""
    if req.mimetype == "application/x-www-form-urlencoded":
        pairs = req.form.to_dict()
        return "&".join(f"{k}={'***' if k in SECRET_FIELDS else v}" for k, v in pairs.items()).encode()
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return data
    if isinstance(body, dict):
        body = {k: ("***" if k in SECRET_FIELDS else v) for k, v in body.items()}
    return json.dumps(body).encode()


def _request_body(family: str, req: Request) -> tuple[bytes | str | None, bool]:
    """The request body as the journal keeps it: bytes cut at ``BODY_LIMIT`` (decoded when read)."""
    try:
        data = req.get_data(cache=True)
    except Exception:  # over the size limit: the body was refused unread
        return "[not read: over the payload limit]", True
    if family == "auth" and data:
        data = _redacted(data, req)
    elif family == "soap" and data:
        data = soap_without_credentials(data)
    if len(data) > BODY_LIMIT:
        return data[:BODY_LIMIT], True
    return data, False


def finish_journal(emulator: Emulator, response: Response, family: str) -> None:
    """Record the call in the journal and the counters (after the answer is final, errors included).

    The entry is kept raw (``RawEntry``: bodies as bytes, the latency in seconds) and built when read;
    only what would hold secrets or too much is worked out here (redacted token calls, headers)."""
    state = vars(g._get_current_object())  # the proxy resolved once; its attributes as a plain dict
    started = state.pop("journal_started", None)
    if started is None:
        return
    latency = time.perf_counter() - started
    capture = state.pop("write_capture", None)
    ctx = state.get("auth")
    tenant = ctx.tenant_id if ctx is not None else state.get("token_tenant")
    req = request._get_current_object()
    environ = req.environ
    dropped = bool(environ.get(DROP))
    status = None if dropped else response.status_code
    url_rule = req.url_rule
    route = url_rule.rule if url_rule is not None else "(unmatched)"
    method = req.method
    request_body, request_cut = _request_body(family, req)
    response_body: bytes | str | None = None
    response_cut = False
    problems = capture.problems if capture is not None else []
    rules: tuple[str, ...] = ()
    if not dropped:
        if not response.direct_passthrough:
            response_body = response.get_data()
            if len(response_body) > BODY_LIMIT:
                response_body, response_cut = response_body[:BODY_LIMIT], True
            if family == "auth" and response_body:
                response_body = without_tokens(response_body.decode("utf-8", errors="replace"))
        if response.status_code >= 400 and response.mimetype == "application/json":
            rules = tuple(broken_rules(problems, response.get_data()))
        elif problems:
            rules = tuple(problems[:50])
    headers, headers_size = request_headers(environ)
    fault = state.get("fault")
    sfmc_host = state.get("sfmc_host")
    emulator.journal.record(
        RawEntry(
            tenant,
            ctx.mid if ctx is not None else None,
            method,
            req.host,
            req.path,
            req.query_string,
            route,
            status,
            latency,
            headers,
            headers_size,
            request_body,
            request_cut,
            response_body,
            response_cut,
            capture.rows_written if capture is not None else 0,
            tuple(capture.keys_ignored) if capture is not None else (),
            rules,
            fault,
            state.get("soap_call"),  # operation and object types of a /Service.asmx call
        )
    )
    host = sfmc_host.name if sfmc_host is not None else ""
    emulator.stats.record_request(tenant, route, method, status, fault=fault is not None, host=host)
