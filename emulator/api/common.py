"""Request parsing and response helpers shared by every blueprint."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import Request, Response, current_app, g, request
from flask.ctx import _AppCtxGlobals

from .. import errors
from ..core import Emulator
from ..domain.stats import WriteCapture
from ..json_reader import loads as read_json
from .routes import RouteTable

MAX_PAYLOAD = 5 * 1024 * 1024  # SFMC's documented payload limit


# The helpers below resolve Flask's proxies once (``_get_current_object``) rather than through an
# attribute of the proxy, which adds two Python calls to every use; views call them several times a request.


def emulator() -> Emulator:
    return current_app._get_current_object().extensions["sfmc"]


def routes() -> RouteTable:
    """Every route the app declared: scopes, body validators and the OpenAPI document."""
    return current_app._get_current_object().extensions["sfmc_routes"]


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: valid JSON syntax, but no number a client can mean
        raise ValueError(f"{text[:20]} is out of range for a number")
    return value


def _parse_body(data: bytes | str) -> object:
    return json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)


# a \uD800-\uDFFF escape: only then can the parsed body hold a lone surrogate (pairs become one character)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def lone_surrogate(value: object) -> str | None:
    """The first string in a parsed body that is not valid Unicode (a lone UTF-16 surrogate), if any."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def parsed_json(req: Request | None = None, state: _AppCtxGlobals | None = None) -> tuple[bool, object]:
    """(parsed, body) for the request's JSON body, parsed once per request however many steps ask.

    Numbers are bounded here, before anything converts them: a literal beyond a double (``1e999``)
    makes the body unparseable. A string holding a lone UTF-16 surrogate (``"\\ud800"``) cannot be
    stored or answered as UTF-8: the body is refused with errorcode 10004 (``errors.not_unicode``).
    ``req`` and ``state``: the request and ``g`` when the caller holds them (else the proxies are resolved).
    """
    if state is None:
        state = g._get_current_object()
    cached = state.__dict__.get("parsed_json")
    if cached is None:
        data = (req if req is not None else request).get_data(cache=True)
        try:
            cached = (True, read_json(data, _parse_body))  # orjson where it reads the same
        except (ValueError, RecursionError):
            cached = (False, None)
        if cached[0] and _SURROGATE_ESCAPE.search(data) and (bad := lone_surrogate(cached[1])) is not None:
            cached = (False, bad)
            state.parsed_json = cached
            raise errors.not_unicode(bad)
        state.parsed_json = cached
    if not cached[0] and isinstance(cached[1], str):
        raise errors.not_unicode(cached[1])
    return cached


def json_body(expect: type | tuple[type, ...] = (dict, list), *, what: str = "The request body"):
    """The parsed JSON body, or the SFMC error a client gets for a bad one."""
    req = request._get_current_object()
    if req.mimetype != "application/json":
        raise errors.unsupported_media_type(req.mimetype)
    parsed, body = parsed_json(req)
    if not parsed:
        raise errors.unparseable_body()
    if not isinstance(body, expect):
        kinds = expect if isinstance(expect, tuple) else (expect,)
        wanted = " or ".join("a JSON array" if k is list else "a JSON object" for k in kinds)
        raise errors.wrong_body_type(what, wanted)
    return body


def arg(name: str) -> str | None:
    """A query parameter by name in any case: SFMC reads ``$pagesize`` as ``$pageSize`` (docs/fidelity.md)."""
    value = request.args.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in request.args.items() if k.lower() == wanted), None)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = arg(name)
    if raw is None or raw == "":
        return default
    # plain ASCII digits only: int() also takes " 2", "+2", "1_000" and other scripts' digits
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    if value is None or not low <= value <= high:
        raise errors.invalid_parameter(f"Parameter {name} is invalid: expected a whole number {low}..{high}.")
    return value


def render_json(err: errors.EmulatorError) -> Response:
    """An error in its JSON protocol: the error class renders its body, this puts it on the wire."""
    response = current_app.json.answer(err.body(), err.status)  # jsonify's bytes (json_provider.py)
    response.headers.update(err.headers())
    return response


def ok(body, status: int = 200) -> Response:
    """``body`` as JSON answering ``status``: what ``jsonify`` writes, built in one step."""
    return current_app.json.answer(body, status)


def auth():
    """The caller's AuthContext, set by the request chain."""
    return g._get_current_object().auth


def write_capture() -> WriteCapture | None:
    """Where this SFMC call's row writes are recorded for its journal entry (the chain's journal step
    creates it); a view that writes rows passes it to the row writer. None outside a journaled call."""
    return g._get_current_object().__dict__.get("write_capture")


GUID_CHARS = set("0123456789abcdefABCDEF-")


@dataclass(frozen=True)
class Reference:
    """A path reference to an object: ``key:K``, ``id:ID`` or a bare id (``kind`` lower case)."""

    kind: str  # "key", "id", or whatever other prefix the client wrote
    value: str
    raw: str

    @property
    def is_guid(self) -> bool:
        return self.kind == "id" and len(self.value) == 36 and set(self.value) <= GUID_CHARS


def reference(ref: str, *, by: str | None = None) -> Reference:
    """The one reading of ``key:``/``id:`` path references; ``by`` fixes the kind (``/key/<key>/`` routes)."""
    if by is not None:
        return Reference(by, ref, ref)
    kind, sep, value = ref.partition(":")
    if not sep or not value:
        return Reference("id", ref, ref)
    return Reference(kind.lower(), value, ref)


def find_data_extension(tenant_id: str, ref: Reference):
    """The tenant's DE a reference names, or None (also for an id that is no GUID)."""
    if ref.kind == "key":
        return emulator().find_data_extension(tenant_id, key=ref.value)
    return emulator().find_data_extension(tenant_id, de_id=ref.value) if ref.is_guid else None


def data_extension(ref: str, *, by: str | None = None):
    """A DE of the caller's tenant from a path reference: ``key:K``, ``id:GUID`` or a bare GUID.

    Another tenant's DE gets exactly the answer of one that does not exist.
    """
    found = reference(ref, by=by)
    de = find_data_extension(auth().tenant_id, found)
    if de is not None:
        return de
    if found.kind == "key":
        raise errors.not_found(f"Data extension with the external key '{found.value}' was not found.")
    if not found.is_guid:
        raise errors.invalid_parameter(f"Parameter {found.value or ref} is invalid.")
    raise errors.not_found(f"Data extension with the ID '{found.value}' was not found.")


def paged(items: list, view: Callable = lambda item: item, *, page_size: int, max_page_size: int) -> dict:
    """One page of ``items`` by ``$page`` and ``$pageSize``, in SFMC's list shape (count, page, pageSize, items)."""
    page = int_arg("$page", 1, 1, 10**9)
    size = int_arg("$pageSize", page_size, 1, max_page_size)
    return {
        "count": len(items),
        "page": page,
        "pageSize": size,
        "items": [view(i) for i in items[(page - 1) * size : page * size]],
    }
