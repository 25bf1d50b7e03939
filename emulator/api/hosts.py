"""Host routing, the first step of the request chain, and the instance URLs a token answer carries.

A request whose ``Host`` is one of SFMC's names (``emulator/domain/hosts.py``) is routed by it: the
subdomain selects the tenant, the auth host answers only token calls, the REST host only REST routes, the
SOAP host only SOAP routes, and the control plane (``/_emulator``, the inspector) is reachable by address
only. A request by IP address or ``localhost`` is not touched: one port serves everything, as before.

An unknown subdomain has no host in SFMC at all (its DNS name does not resolve). A client that reaches the
emulator by such a name gets a 404 naming the subdomain, in the envelope of the host it asked (OAuth for the
auth host, SFMC's REST envelope otherwise), so a typo in a configured subdomain is plain to see.
"""

from __future__ import annotations

from flask import Request, current_app, g, request
from flask.ctx import _AppCtxGlobals

from .. import errors
from ..core import Emulator
from ..domain.auth import INVALID_CLIENT, AuthContext
from ..domain.hosts import SfmcHost, classify, instance_urls
from . import control

_UNSET = object()


def reached_host(req: Request | None = None, state: _AppCtxGlobals | None = None) -> SfmcHost | None:
    """The SFMC host this request came in on (None when reached by address); set by ``route_by_host``.

    ``req`` and ``state``: the request and ``g`` when the caller holds them (else the proxies are resolved)."""
    if state is None:
        state = g._get_current_object()
    found = state.__dict__.get("sfmc_host", _UNSET)  # not getattr's AttributeError: the first ask of each request
    if found is _UNSET:
        state.sfmc_host = found = classify((req if req is not None else request).host)
    return found


def route_by_host(emulator: Emulator, req: Request, state: _AppCtxGlobals) -> None:
    """Refuse what the named host does not serve; pin the tenant the subdomain names."""
    host = reached_host(req, state)
    if host is None:
        return
    endpoint = req.endpoint or ""
    family = endpoint.partition(".")[0]
    if not endpoint:
        control.start_journal(emulator)
        return  # the router's own 404 answers, journaled like any unmatched SFMC call
    if not host.serves(family, endpoint):
        control.start_journal(emulator)
        raise _refusal(host, f"{req.method} {req.path} is not served on {host.name}.")
    if host.subdomain is None:
        return
    tenant = emulator.tenants.of_subdomain(host.subdomain)
    if tenant is None:
        control.start_journal(emulator)
        raise _refusal(
            host,
            f"No account has the subdomain '{host.subdomain}' ({host.name} does not exist in SFMC). "
            "Use the subdomain of the tenant you loaded (sfmc-emulator hosts lists them).",
        )
    state.host_tenant = state.token_tenant = tenant.id  # token_tenant: the journal's tenant for a call refused early
    if host.kind == "auth":
        caller = control.tenant_of_token_call(emulator)
        if caller is not None and caller != tenant.id:
            control.start_journal(emulator)
            state.token_tenant = caller
            raise errors.oauth_invalid_client(INVALID_CLIENT)


def check_caller(ctx: AuthContext, state: _AppCtxGlobals | None = None) -> None:
    """After authentication (REST and SOAP alike): a token of another account is refused on this account's
    host name, as a token SFMC never issued there ("only your tenant can use your endpoints")."""
    pinned = (g if state is None else state).get("host_tenant")
    if pinned is not None and ctx.tenant_id != pinned:
        raise errors.not_authorized()


def _refusal(host: SfmcHost, message: str) -> errors.EmulatorError:
    if host.kind in ("auth", "legacy-auth"):
        return errors.oauth_unknown_host(message)
    return errors.not_found(message)


def token_instance_urls() -> dict[str, str]:
    """``rest_instance_url``/``soap_instance_url``: SFMC's names when reached by name, else our own base."""
    host = reached_host()
    if host is not None and host.subdomain:
        return instance_urls(host.subdomain)
    public = current_app.config.get("SFMC_PUBLIC_URL")
    base = (public or request.host_url).rstrip("/") + "/"
    return {"soap_instance_url": base, "rest_instance_url": base}
