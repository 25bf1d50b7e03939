"""Every error the emulator answers: SFMC's envelopes, their exceptions, and one named constructor per error.

Views and services raise a named constructor (``invalid``, ``not_found``, ``rows_not_saved``,
``oauth_invalid_client``, ``async_request_not_found``, ...); nothing else builds an error body
(``tests/project/test_errors_in_one_place.py``). The app's error handler renders each one in its
protocol, so a client sees the shapes real SFMC sends (see ``sfmc-api-notes.md``):

* REST calls: ``{"message", "errorcode", "documentation", "additionalErrors"}``
* OAuth calls: ``{"error", "error_description", "error_uri"}``
* async Data Extension calls: ``{"resultMessages": [{"resultType", "resultClass", "resultCode", "message"}]}``
* SOAP calls (``/Service.asmx``): a SOAP Fault (``SoapFault``, ``render_soap_fault``)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TypedDict

from .domain.soap import write_fault

DOCS = "https://developer.salesforce.com/docs/marketing/marketing-cloud/guide/error-handling.html"
OAUTH_DOCS = "https://developer.salesforce.com/docs"

# errorcodes from the SFMC REST error table
GENERIC = 10000
INVALID_PARAMETER = 10001
MISSING_FIELD = 10002
INCORRECT_FORMAT = 10003
UNPARSEABLE = 10004
ROWS_NOT_SAVED = 10006
NOT_AUTHORIZED = 0
INSUFFICIENT_PRIVILEGES = 20002
NOT_FOUND = 30003
ALREADY_EXISTS = 30004
RATE_LIMITED = 50100
BLOCKED = 50200
UNAVAILABLE = 50300


class Detail(TypedDict):
    """One ``additionalErrors`` entry of the REST envelope."""

    message: str
    errorcode: int
    documentation: str


def detail(message: str, errorcode: int = GENERIC) -> Detail:
    """One ``additionalErrors`` entry."""
    return {"message": message, "errorcode": errorcode, "documentation": ""}


class EmulatorError(Exception):
    """Base: an answer that is an error, with its status, body and headers (subclasses set ``status``)."""

    def body(self) -> dict[str, object]:
        raise TypeError("subclasses render their own body")

    def headers(self) -> dict[str, str]:
        return {}


@dataclass
class SfmcError(EmulatorError):
    """The REST error envelope."""

    status: int
    errorcode: int
    message: str
    additional: list[Detail] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)
    extra_body: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {"message": self.message, "errorcode": self.errorcode, "documentation": DOCS}
        if self.additional:
            out["additionalErrors"] = self.additional
        out.update(self.extra_body)
        return out

    def headers(self) -> dict[str, str]:
        return dict(self.extra_headers)


@dataclass
class OAuthError(EmulatorError):
    """The OAuth2 error envelope used by ``/v2/token``."""

    status: int
    error: str
    description: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.description)

    def body(self) -> dict[str, object]:
        return {"error": self.error, "error_description": self.description, "error_uri": OAUTH_DOCS}

    def headers(self) -> dict[str, str]:
        return dict(self.extra_headers)


@dataclass
class AsyncApiError(EmulatorError):
    """The ``resultMessages`` envelope of the ``/data/v1/async`` family."""

    status: int
    result_code: str
    message: str
    result_type: str = "Validation"
    request_id: str | None = None  # SFMC gives some refusals a requestId of their own

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def body(self) -> dict[str, object]:
        head = {"requestId": self.request_id} if self.request_id else {}
        return {
            **head,
            "resultMessages": [
                {
                    "resultType": self.result_type,
                    "resultClass": "Error",
                    "resultCode": self.result_code,
                    "message": self.message,
                }
            ],
        }


# Every error the emulator answers, by name. Views and services raise these; none builds a body.
# Each class above renders its own protocol's body (``body()``): SFMC's REST envelope, the OAuth
# body of the token routes, the async ``resultMessages`` envelope; SOAP faults are below.

# -- REST (SfmcError) ------------------------------------------------------------------------------


def bad_request(message: str, errorcode: int = GENERIC, additional: list[Detail] | None = None) -> SfmcError:
    """A 400 with a given errorcode: the base of the named 400s below."""
    return SfmcError(400, errorcode, message, additional or [])


def invalid(problems: list[str], errorcode: int = INCORRECT_FORMAT, *, prefix: str = "") -> SfmcError:
    """Problems found checking an input, as one 400: the first is the message, each is an additionalErrors entry."""
    return bad_request(prefix + problems[0], errorcode, [detail(p, errorcode) for p in problems])


def invalid_or_missing(problems: list[str]) -> SfmcError:
    """``invalid`` with errorcode 10002 when the first problem is a missing required field, else 10003."""
    return invalid(problems, MISSING_FIELD if "required" in problems[0] else INCORRECT_FORMAT)


def invalid_body(problems: list[str]) -> SfmcError:
    """A JSON body that fails its route's schema."""
    return invalid(problems, prefix="The request body is not valid: ")


def incorrect_format(message: str) -> SfmcError:
    return bad_request(message, INCORRECT_FORMAT)


def missing_field(message: str) -> SfmcError:
    return bad_request(message, MISSING_FIELD)


def invalid_parameter(message: str) -> SfmcError:
    return bad_request(message, INVALID_PARAMETER)


def unparseable_body() -> SfmcError:
    return bad_request("Unable to parse the request body: it is not valid JSON.", UNPARSEABLE)


def wrong_body_type(what: str, wanted: str) -> SfmcError:
    return incorrect_format(f"{what} must be {wanted}.")


def unsupported_media_type(mimetype: str | None) -> SfmcError:
    return SfmcError(415, 0, f"Unsupported Media Type: send the body as application/json (got '{mimetype or 'none'}').")


def payload_too_large(limit_bytes: int) -> SfmcError:
    return SfmcError(
        413,
        GENERIC,
        f"The request body exceeds the {limit_bytes // (1024 * 1024)} MB limit. Send fewer rows per call "
        "(SFMC recommends 50) or use the async API.",
    )


def rows_not_saved(message: str, problems: list[str]) -> SfmcError:
    """A write whose rows failed validation (errorcode 10006), one additionalErrors entry per problem."""
    return bad_request(message, ROWS_NOT_SAVED, [detail(p) for p in problems])


def cross_site(what: str) -> SfmcError:
    """The control plane refuses requests a page on another site could make through a browser."""
    return SfmcError(403, NOT_AUTHORIZED, f"Forbidden: the emulator's control plane refuses {what}.")


def not_unicode(text: str) -> SfmcError:
    """A body string with a lone UTF-16 surrogate: not valid Unicode, so not storable (inferred wording)."""
    where = next((i for i, ch in enumerate(text) if 0xD800 <= ord(ch) <= 0xDFFF), 0)
    return bad_request(
        f"Unable to parse the request body: a string holds a lone UTF-16 surrogate "
        f"(\\u{ord(text[where]):04x} at character {where}), which is not valid Unicode.",
        UNPARSEABLE,
    )


def not_found(message: str = "Object not found.") -> SfmcError:
    return SfmcError(404, NOT_FOUND, message)


def already_exists(message: str) -> SfmcError:
    return SfmcError(409, ALREADY_EXISTS, message)


def not_authorized(expired: bool = False) -> SfmcError:
    headers = {}
    if expired:
        headers["WWW-Authenticate"] = (
            'Bearer realm="example.com", error="invalid_token", error_description="The access token expired"'
        )
    return SfmcError(401, NOT_AUTHORIZED, "Not Authorized", extra_headers=headers)


def legacy_unauthorized() -> SfmcError:
    """``/v1/requestToken`` refusing a client: the REST envelope, not OAuth's."""
    return SfmcError(401, NOT_AUTHORIZED, "Unauthorized")


def admin_token_required() -> SfmcError:
    return SfmcError(
        401,
        NOT_AUTHORIZED,
        "Not Authorized: this emulator's control plane needs its admin token in "
        "'Authorization: Bearer <token>' or 'X-Emulator-Admin-Token'.",
    )


def insufficient_privileges(scope: str) -> SfmcError:
    return SfmcError(
        403,
        INSUFFICIENT_PRIVILEGES,
        "Insufficient privileges to complete this action.",
        [detail(f"The access token lacks the scope '{scope}' this call needs.", INSUFFICIENT_PRIVILEGES)],
    )


def clock_per_process(workers: int) -> SfmcError:
    """``POST /_emulator/clock`` on a multi-process emulator: each process has its own clock."""
    return SfmcError(
        409,
        GENERIC,
        f"Clock control is refused: this emulator runs {workers} worker processes, each with its own clock, so "
        "moving or freezing one would leave the others disagreeing (token expiry, throttle windows, async "
        "pickup). Run it with --workers 1 to use clock control.",
    )


def rate_limited(retry_after: int) -> SfmcError:
    return SfmcError(
        429,
        RATE_LIMITED,
        "Rate limit exceeded",
        # SFMC's 429 says its charset (docs/fidelity.md, AUTH-4)
        extra_headers={"Retry-After": str(retry_after), "Content-Type": "application/json; charset=utf-8"},
        extra_body={"retryAfter": retry_after},
    )


def injected(status: int, errorcode: int, message: str, retry_after: int | None = None) -> SfmcError:
    """The answer a fault rule asked for (``/_emulator/faults``)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return SfmcError(status, errorcode, message, extra_headers=headers)


def http_error(status: int | None, name: str) -> SfmcError:
    """What Werkzeug refused before any view ran (unknown path, wrong method)."""
    return SfmcError(status or 500, status or 0, name)


def method_not_allowed(method: str, allowed: list[str], *, token_route: bool) -> EmulatorError:
    """A known path called with a method it does not serve: 405 with ``Allow`` (RFC 9110 15.5.6);
    on the OAuth2 token route in OAuth's own envelope, as every other answer there."""
    allow = {"Allow": ", ".join(sorted(allowed))}
    description = f"{method} is not allowed here; use {' or '.join(sorted(allowed))}."
    if token_route:
        return OAuthError(405, "invalid_request", description, extra_headers=allow)
    return SfmcError(405, 405, description, extra_headers=allow)


def unexpected() -> SfmcError:
    return SfmcError(500, 0, "An unexpected error occurred in the emulator; check its log for the cause.")


def rowset_token_not_found(token: str) -> SfmcError:
    """A requestToken that expired, was never issued, or belongs to another tenant (inferred shape)."""
    return SfmcError(404, NOT_FOUND, f"The request token '{token}' was not found or has expired.")


# -- OAuth (the token routes) ----------------------------------------------------------------------


def oauth_invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def oauth_invalid_client(description: str) -> OAuthError:
    return OAuthError(401, "invalid_client", description)


def oauth_unknown_host(description: str) -> OAuthError:
    """A token call to an auth host of a subdomain no account has."""
    return OAuthError(404, "invalid_request", description)


def oauth_unsupported_grant_type() -> OAuthError:
    return OAuthError(400, "unsupported_grant_type", "Use grant_type=client_credentials for server-to-server packages.")


def oauth_unauthorized_client(description: str) -> OAuthError:
    return OAuthError(401, "unauthorized_client", description)


def oauth_invalid_scope(description: str) -> OAuthError:
    return OAuthError(400, "invalid_scope", description)


# -- the async Data Extension API (resultMessages) -------------------------------------------------


def async_invalid_request(message: str) -> AsyncApiError:
    return AsyncApiError(400, "InvalidRequest", message)


def async_max_items_exceeded(count: int, limit: int) -> AsyncApiError:
    return AsyncApiError(
        400, "MaxItemsExceeded", f"The request has {count} items; at most {limit:,} are allowed per request."
    )


def async_request_not_found(request_id: str) -> AsyncApiError:
    return AsyncApiError(
        404, "AsyncRequestStatusNotFound", f"No asynchronous request with the ID '{request_id}' was found."
    )


def as_async(err: SfmcError) -> AsyncApiError:
    """A shared REST error met on an async route, in that family's resultMessages envelope."""
    code = "InvalidRequest" if err.status < 500 else "InternalError"
    details = "; ".join(a["message"] for a in err.additional if a["message"] != err.message)
    return AsyncApiError(err.status, code, err.message + (f" ({details})" if details else ""))


# The SOAP API (``/Service.asmx``) answers every error as a SOAP Fault, never JSON.

SOAP_LOGIN_FAILED = "Login Failed"  # SFMC's faultstring for a missing or unknown token
SOAP_TOKEN_EXPIRED = "Token Expired"  # ... and for an expired one, which sfmc-sdk refreshes and retries on


@dataclass
class SoapFault(EmulatorError):
    """A SOAP 1.1 Fault: ``kind`` is client, server, version (VersionMismatch) or security."""

    status: int
    kind: str
    message: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def body(self) -> dict[str, object]:
        return {"faultcode": self.kind, "faultstring": self.message}

    def headers(self) -> dict[str, str]:
        return dict(self.extra_headers)


def as_soap_fault(err: EmulatorError) -> SoapFault:
    """Any error met on the SOAP path, as the fault a SOAP client gets: the status stays, the envelope changes."""
    if isinstance(err, SoapFault):
        return err
    status = getattr(err, "status", 400)
    if status == 401:
        expired = "expired" in err.headers().get("WWW-Authenticate", "")
        return SoapFault(401, "security", SOAP_TOKEN_EXPIRED if expired else SOAP_LOGIN_FAILED)
    message = getattr(err, "message", None) or getattr(err, "description", None) or str(err)
    return SoapFault(status, "server" if status >= 500 else "client", message, err.headers())


def render_soap_fault(err: EmulatorError, *, request_id: str, now: float, actor: str | None = None) -> bytes:
    fault = as_soap_fault(err)
    return write_fault(fault.message, fault.kind, request_id=request_id, actor=actor, now=now)


def custom_object_not_found(de_id: str = "", key: str = "") -> AsyncApiError:
    """An async write to an unknown DE: 400 with a requestId of its own (segment-async's recording)."""
    return AsyncApiError(
        400,
        "CustomObjectNotFound",
        f"Failed to resolve the Custom Object from the provided ObjectReferenceIdentifier [Id: {de_id}, Key: {key}].",
        request_id=str(uuid.uuid4()),
    )


def search_required() -> SfmcError:
    """``GET /data/v1/customobjects`` without ``$search`` (probe-notes: 400; inferred wording and code)."""
    return bad_request("Parameter $search is required.", INVALID_PARAMETER)


def incomplete_definition(problems: list[str]) -> SfmcError:
    """A REST Data Extension create without its folder or with partial field objects (probe-notes)."""
    return bad_request(
        "Unable to create the data extension: " + problems[0],
        MISSING_FIELD,
        [detail(p, MISSING_FIELD) for p in problems],
    )
