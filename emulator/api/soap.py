"""SFMC's SOAP API: ``POST /Service.asmx``, its WSDL, and ``GET /platform/v1/endpoints/soap``.

Thin: the request chain (``app.py``) reads the envelope and authenticates from its header
(``soap_step``); the view hands the parsed request to ``services/soap.py`` and returns its XML.
Every error on this path leaves as a SOAP Fault (``errors.render_soap_fault``), never JSON.
"""

from __future__ import annotations

import uuid
from importlib import resources
from xml.sax.saxutils import escape

from flask import Response, g, request

from .. import errors
from ..domain.soap import SoapProblem, parse_request
from .common import auth, emulator, ok, write_capture
from .hosts import token_instance_urls
from .routes import Api

api = Api("soap", __name__, tag="soap")  # the SOAP endpoint itself: its chain step is soap_step
wsdl_api = Api("wsdl", __name__, tag="soap")  # public documents, no auth (as SFMC serves its WSDL)
platform_api = Api("platform", __name__, tag="platform")  # REST: Bearer auth like every REST call

SERVICE_PATH = "/Service.asmx"
WSDL_PATH = "/etframework.wsdl"
XML = "text/xml; charset=utf-8"


def _xml(description: str) -> dict:
    return {"description": description, "content": {"text/xml": {"schema": {"type": "string"}}}}


def is_soap_request() -> bool:
    return request.blueprint == "soap" or request.path.lower() == SERVICE_PATH.lower()


def soap_step(core):
    """The chain's SOAP step: read the envelope, authenticate from ``<fueloauth>`` or ``<oAuth><oAuthToken>``."""
    try:
        parsed = parse_request(request.get_data(cache=True), request.headers.get("SOAPAction"))
    except SoapProblem as problem:
        raise errors.SoapFault(problem.status, problem.kind, problem.message) from None
    g.soap_request = parsed
    g.soap_call = {"operation": parsed.operation, "object_types": []}
    if not parsed.token:
        raise errors.SoapFault(401, "security", errors.SOAP_LOGIN_FAILED)
    return core.auth.authenticate("Bearer " + parsed.token)


def fault_response(err: errors.EmulatorError) -> Response:
    fault = errors.as_soap_fault(err)
    body = errors.render_soap_fault(
        fault, request_id=str(uuid.uuid4()), now=emulator().clock.now(), actor=request.base_url
    )
    response = Response(body, status=fault.status, content_type=XML)
    response.headers.update(fault.headers())
    return response


# The request body is a SOAP envelope (text/xml), described by the WSDL rather than a JSON schema
@api.post(
    SERVICE_PATH,
    "SOAP API: Retrieve, Create, Update, Delete (Data Extensions, rows, folders, business units)",
    written_out={
        "description": "A SOAP 1.1 envelope whose header carries <fueloauth> or <oAuth><oAuthToken>; operations and "
        "objects as described by GET /etframework.wsdl and docs/soap.md. The path is case-insensitive.",
        "x-error-envelope": "soap",
        "x-request-content-type": "text/xml",
        "responses": {
            "200": _xml("the operation's answer (per-object results, OverallStatus)"),
            "4XX": _xml("a SOAP Fault (faultcode, faultstring)"),
            "429": _xml("a SOAP Fault with Retry-After: SOAP calls count against the tenant's rate limit"),
        },
    },
)
def soap_service():
    try:
        answer = emulator().soap.handle(auth(), g.soap_request, write_capture())
    except SoapProblem as problem:
        raise errors.SoapFault(problem.status, problem.kind, problem.message) from None
    g.soap_call["object_types"] = answer.object_types
    return Response(answer.body, status=200, content_type=XML)


@wsdl_api.get(
    WSDL_PATH,
    "The WSDL of the SOAP API (what this emulator implements); no authentication",
    written_out={"x-error-envelope": "sfmc", "responses": {"200": _xml("WSDL 1.1 document")}},
)
def wsdl():
    """This emulator's WSDL, its service address pointing where the client reached us."""
    text = resources.files("emulator").joinpath("wsdl/etframework.wsdl").read_text("utf-8")
    address = escape(request.host_url.rstrip("/") + SERVICE_PATH, {'"': "&quot;"})
    text = text.replace("https://webservice.exacttarget.com/Service.asmx", address)
    return Response(text, status=200, content_type=XML)


@platform_api.get(
    "/platform/v1/endpoints/soap",
    'The SOAP endpoint\'s address, as FuelSDK asks for it: {"url": ...}',
    response="SoapEndpoint",
)
def soap_endpoint():
    """FuelSDK asks here for its SOAP address (``{"url": ...}``)."""
    return ok({"url": token_instance_urls()["soap_instance_url"].rstrip("/") + SERVICE_PATH})
