"""SFMC's error envelopes and the exceptions that map to them.

Every route raises one of these and one error handler renders it, so a client sees the same
shapes real SFMC sends (see ``sfmc-api-notes.md``):

* REST calls: ``{"message", "errorcode", "documentation", "additionalErrors"}``
* OAuth calls: ``{"error", "error_description", "error_uri"}``
* async Data Extension calls: ``{"resultMessages": [{"resultType", "resultClass", "resultCode", "message"}]}``
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

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


def detail(message: str, errorcode: int = GENERIC) -> dict:
    """One ``additionalErrors`` entry."""
    return {"message": message, "errorcode": errorcode, "documentation": ""}


class EmulatorError(Exception):
    """Base: an answer that is an error, with its status, body and headers (subclasses set ``status``)."""

    def body(self) -> dict:
        raise TypeError("subclasses render their own body")

    def headers(self) -> dict[str, str]:
        return {}


@dataclass
class SfmcError(EmulatorError):
    """The REST error envelope."""

    status: int
    errorcode: int
    message: str
    additional: list[dict] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)
    extra_body: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def body(self) -> dict:
        out = {"message": self.message, "errorcode": self.errorcode, "documentation": DOCS}
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

    def __post_init__(self) -> None:
        Exception.__init__(self, self.description)

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description, "error_uri": OAUTH_DOCS}


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

    def body(self) -> dict:
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


# Constructors for the errors every route family shares.


def bad_request(message: str, errorcode: int = GENERIC, additional: list[dict] | None = None) -> SfmcError:
    return SfmcError(400, errorcode, message, additional or [])


def not_found(message: str = "Object not found.") -> SfmcError:
    return SfmcError(404, NOT_FOUND, message)


def not_authorized(expired: bool = False) -> SfmcError:
    headers = {}
    if expired:
        headers["WWW-Authenticate"] = (
            'Bearer realm="example.com", error="invalid_token", error_description="The access token expired"'
        )
    return SfmcError(401, NOT_AUTHORIZED, "Not Authorized", extra_headers=headers)


def insufficient_privileges(scope: str) -> SfmcError:
    return SfmcError(
        403,
        INSUFFICIENT_PRIVILEGES,
        "Insufficient privileges to complete this action.",
        [detail(f"The access token lacks the scope '{scope}' this call needs.", INSUFFICIENT_PRIVILEGES)],
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


def rowset_token_not_found(token: str) -> SfmcError:
    """A requestToken that expired, was never issued, or belongs to another tenant (inferred shape)."""
    return SfmcError(404, NOT_FOUND, f"The request token '{token}' was not found or has expired.")


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

    def body(self) -> dict:
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
