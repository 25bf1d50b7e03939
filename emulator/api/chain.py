"""The request chain: every request passes these named steps, in the order of ``STEPS``, before its view.

A step is a small function of the ``Call`` (the emulator, the route table, what earlier steps
found). It returns None to go on, ``DONE`` to end the chain and run the view, or a response to
answer at once; it raises an ``EmulatorError`` to refuse. To add a step (say, for a new
protocol), write the function and put it in ``STEPS`` where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Request, Response
from flask.ctx import _AppCtxGlobals

from .. import errors
from ..core import Emulator
from ..domain.auth import AuthContext
from ..domain.throttle import retry_after_header
from . import control, hosts, soap
from .common import MAX_PAYLOAD
from .routes import RouteTable

PUBLIC = {"wsdl"}  # documents anyone may read (SFMC serves its WSDL without auth): no chain at all
TOKEN_CALLS = {"auth"}  # no bearer token; not counted against the REST rate limit (RL-1)
CONTROL_PLANE = {"admin", "ui"}  # never journaled, never faulted; guarded by the admin token when one is set
ADMIN_MAX_PAYLOAD = 64 * 1024 * 1024
DONE = object()  # a step's answer: the chain is over, the view runs


@dataclass
class Call:
    emulator: Emulator
    routes: RouteTable
    # the request and ``g`` themselves, resolved once: each use of Flask's ``request``/``g`` proxies costs
    # a context-variable look-up and two Python calls, and the chain reads them about thirty times
    request: Request
    g: _AppCtxGlobals
    family: str = ""  # the API family: the blueprint of the matched route ("" for no route)
    auth: AuthContext | None = None


Step = Callable[[Call], object]


def host_routing(call: Call) -> None:
    """SFMC host names (mc<subdomain>.rest/auth/soap...): the subdomain's tenant, only that host's routes."""
    hosts.route_by_host(call.emulator, call.request, call.g)


def identify_family(call: Call) -> object:
    req = call.request
    call.family = (req.endpoint or "").partition(".")[0]
    req.max_content_length = ADMIN_MAX_PAYLOAD if call.family == "admin" else MAX_PAYLOAD
    return DONE if call.family in PUBLIC else None


def admin_guard(call: Call) -> object:
    """The control plane and the inspector: the admin token (when set) and body validation, nothing else."""
    if call.family in CONTROL_PLANE or call.request.path.startswith("/_emulator"):
        control.refuse_cross_site()  # before the token: a browser on another site carries no token anyway
        control.check_admin_token(call.emulator)
        control.validate_body(call.family, call.request, call.g)
        return DONE
    return None


def journal(call: Call) -> object:
    """Every SFMC call from here on is journaled, refused ones included; an unknown path ends here (404)."""
    control.start_journal(call.emulator)
    return None if call.request.endpoint else DONE


def token_call(call: Call) -> object:
    """Token calls: their tenant is the client id's; faults may answer; the body is checked."""
    if call.family not in TOKEN_CALLS:
        return None
    call.g.token_tenant = tenant = control.tenant_of_token_call(call.emulator)
    dropped = control.apply_fault(call.emulator, tenant, token_call=True)
    control.validate_body(call.family, call.request, call.g)
    return dropped if dropped is not None else DONE


def authenticate(call: Call) -> None:
    """The bearer token; SOAP takes it from the envelope's header instead (``api/soap.py`` ``soap_step``)."""
    if call.family == "soap":
        call.auth = soap.soap_step(call.emulator)
    else:
        # what request.headers.get("Authorization") reads, without building the headers view
        call.auth = call.emulator.auth.authenticate(call.request.environ.get("HTTP_AUTHORIZATION"))
    call.g.auth = call.auth


def host_caller(call: Call) -> None:
    """On a tenant's own SFMC host name, only that tenant's tokens (``api/hosts.py``)."""
    assert call.auth is not None
    hosts.check_caller(call.auth, call.g)


def faults(call: Call) -> Response | None:
    """Fault rules answer before the throttle: injected answers cost no token."""
    assert call.auth is not None
    return control.apply_fault(call.emulator, call.auth.tenant_id, req=call.request)


def throttle(call: Call) -> None:
    assert call.auth is not None
    decision = call.emulator.admit(call.auth.tenant_id)
    if not decision.allowed:
        raise errors.rate_limited(retry_after_header(decision.retry_after))


def scope(call: Call) -> None:
    assert call.auth is not None
    needed = call.routes.scope(call.request.endpoint)
    if needed and needed not in call.auth.scopes:
        raise errors.insufficient_privileges(needed)


def body_validation(call: Call) -> None:
    control.validate_body(call.family, call.request, call.g)


STEPS: list[Step] = [
    host_routing,
    identify_family,
    admin_guard,
    journal,
    token_call,
    authenticate,
    host_caller,
    faults,
    throttle,
    scope,
    body_validation,
]


def run(call: Call, steps: list[Step] = STEPS) -> Response | None:
    """Run the steps in order until one answers or ends the chain; None lets the view run."""
    for step in steps:
        out = step(call)
        if out is DONE:
            return None
        if out is not None:
            return out  # type: ignore[return-value]
    return None
