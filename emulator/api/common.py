"""Request parsing and response helpers shared by every blueprint."""

from __future__ import annotations

import json

from flask import current_app, g, jsonify, request

from .. import errors
from ..core import Emulator
from .routes import RouteTable

MAX_PAYLOAD = 5 * 1024 * 1024  # SFMC's documented payload limit


def emulator() -> Emulator:
    return current_app.extensions["sfmc"]


def routes() -> RouteTable:
    """Every route the app declared: scopes, body validators and the OpenAPI document."""
    return current_app.extensions["sfmc_routes"]


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parsed_json() -> tuple[bool, object]:
    """(parsed, body) for the request's JSON body, parsed once per request however many steps ask."""
    cached = g.get("parsed_json")
    if cached is None:
        try:
            cached = (True, json.loads(request.get_data(cache=True), parse_constant=_reject_constant))
        except (ValueError, RecursionError):
            cached = (False, None)
        g.parsed_json = cached
    return cached


def json_body(expect: type | tuple[type, ...] = (dict, list), *, what: str = "The request body"):
    """The parsed JSON body, or the SFMC error a client gets for a bad one."""
    if request.mimetype != "application/json":
        raise errors.SfmcError(
            415,
            0,
            f"Unsupported Media Type: send the body as application/json (got '{request.mimetype or 'none'}').",
        )
    parsed, body = parsed_json()
    if not parsed:
        raise errors.bad_request("Unable to parse the request body: it is not valid JSON.", errors.UNPARSEABLE)
    if not isinstance(body, expect):
        kinds = expect if isinstance(expect, tuple) else (expect,)
        wanted = " or ".join("a JSON array" if k is list else "a JSON object" for k in kinds)
        raise errors.bad_request(f"{what} must be {wanted}.", errors.INCORRECT_FORMAT)
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
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise errors.bad_request(
            f"Parameter {name} is invalid: expected a whole number {low}..{high}.", errors.INVALID_PARAMETER
        )
    return value


def ok(body, status: int = 200):
    return jsonify(body), status


def auth():
    """The caller's AuthContext, set by the request chain."""
    return g.auth


GUID_CHARS = set("0123456789abcdefABCDEF-")


def data_extension(ref: str, *, by: str | None = None):
    """A DE of the caller's tenant from a path reference: ``key:K``, ``id:GUID`` or a bare GUID.

    Another tenant's DE gets exactly the answer of one that does not exist.
    """
    tenant_id = auth().tenant_id
    kind, _, value = ref.partition(":") if by is None else (by, ":", ref)
    if by is None and not value:
        kind, value = "id", ref
    kind = kind.lower()
    if kind == "key":
        de = emulator().find_data_extension(tenant_id, key=value)
        if de is None:
            raise errors.not_found(f"Data extension with the external key '{value}' was not found.")
        return de
    if kind != "id" or len(value) != 36 or not set(value) <= GUID_CHARS:
        raise errors.bad_request(f"Parameter {value or ref} is invalid.", errors.INVALID_PARAMETER)
    de = emulator().find_data_extension(tenant_id, de_id=value)
    if de is None:
        raise errors.not_found(f"Data extension with the ID '{value}' was not found.")
    return de
