"""SFMC's API host names: which names exist, which routes each serves, what the token answer points at.

SFMC gives every account ("tenant") a 28-character subdomain and three host names built from it:
``{sub}.auth.marketingcloudapis.com`` (OAuth2 token calls), ``{sub}.rest.marketingcloudapis.com`` (REST)
and ``{sub}.soap.marketingcloudapis.com`` (SOAP). The token answer names the last two as
``rest_instance_url`` and ``soap_instance_url``, and "only your tenant can use your endpoints"
(https://developer.salesforce.com/docs/marketing/marketing-cloud/guide/your-subdomain-tenant-specific-endpoints.html,
and "Access Token for Server-to-Server Integrations"). Older code uses the shared legacy hosts:
``auth.exacttargetapis.com`` (``POST /v1/requestToken``, the default of fuel-auth),
``www.exacttargetapis.com`` (REST) and ``webservice.exacttarget.com`` / ``webservice.s{N}.exacttarget.com``
(SOAP, and the WSDL FuelSDK downloads; Salesforce's knowledge article 000392834 lists webservice.s4, .s6,
.s7 and .s10 among the legacy SOAP endpoints).

Pure rules, no Flask: the request chain (``api/hosts.py``), the certificate authority and the forward
proxy (``emulator/tls``) all ask this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SFMC_DOMAIN = "marketingcloudapis.com"
KINDS = ("auth", "rest", "soap")
TENANT_HOST = re.compile(r"^(?P<sub>[a-z0-9-]{1,63})\.(?P<kind>auth|rest|soap)\.marketingcloudapis\.com$")
LEGACY_HOSTS = {
    "auth.exacttargetapis.com": "legacy-auth",
    "www.exacttargetapis.com": "legacy-rest",
    "webservice.exacttarget.com": "legacy-soap",
}
STACK_SOAP_HOST = re.compile(r"^webservice\.s(?P<stack>[0-9]{1,2})\.exacttarget\.com$")
STACKS = range(1, 51)  # webservice.s1 ... webservice.s50 get certificate names (SFMC's stacks are numbered so)

# Route families (a blueprint's name) each kind of host serves.
TOKEN_FAMILIES = frozenset({"auth"})
SOAP_FAMILIES = frozenset({"soap", "wsdl"})  # POST /Service.asmx and GET /etframework.wsdl
CONTROL_FAMILIES = frozenset({"admin", "ui"})


@dataclass(frozen=True)
class SfmcHost:
    """A request's Host when it is one of SFMC's names."""

    name: str  # the host name as given, lower-cased, without a port
    kind: str  # auth | rest | soap | legacy-auth | legacy-rest | legacy-soap
    subdomain: str | None = None  # only for the per-tenant names

    def serves(self, family: str, endpoint: str) -> bool:
        """Whether this host answers a route of ``family`` (``endpoint`` is ``family.view``)."""
        if family in CONTROL_FAMILIES:
            return False
        if self.kind == "auth":
            return endpoint == "auth.token"
        if self.kind == "legacy-auth":
            return family in TOKEN_FAMILIES
        if self.kind in ("soap", "legacy-soap"):
            return family in SOAP_FAMILIES
        return family not in TOKEN_FAMILIES and family not in SOAP_FAMILIES  # rest, legacy-rest


def split_port(host: str) -> tuple[str, int | None]:
    """``name[:port]`` (or ``[v6]:port``) as (lower-case name, port or None); raises ValueError."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(host)
    else:
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    if port and not port.isdigit():
        raise ValueError(host)
    if port and not 0 < int(port) < 65536:
        raise ValueError(host)
    return name.rstrip("."), int(port) if port else None


@lru_cache(maxsize=256)  # a pure function of the header, asked on every request; clients send few distinct hosts
def classify(host: str | None) -> SfmcHost | None:
    """The SFMC host a ``Host`` header names, or None for anything else (an address, localhost, ...)."""
    if not host:
        return None
    try:
        name, _port = split_port(host)
    except ValueError:
        return None
    match = TENANT_HOST.match(name)
    if match:
        return SfmcHost(name, match["kind"], match["sub"])
    if name in LEGACY_HOSTS:
        return SfmcHost(name, LEGACY_HOSTS[name])
    if STACK_SOAP_HOST.match(name):
        return SfmcHost(name, "legacy-soap")
    return None


def is_sfmc_host(name: str) -> bool:
    return classify(name) is not None


def instance_urls(subdomain: str) -> dict[str, str]:
    """The token answer's instance URLs, exactly as SFMC builds them for a subdomain."""
    return {
        "soap_instance_url": f"https://{subdomain}.soap.{SFMC_DOMAIN}/",
        "rest_instance_url": f"https://{subdomain}.rest.{SFMC_DOMAIN}/",
    }


def tenant_host_names(subdomain: str) -> list[str]:
    return [f"{subdomain}.{kind}.{SFMC_DOMAIN}" for kind in KINDS]


def certificate_names() -> list[str]:
    """Every DNS name the emulator's leaf certificate covers."""
    names = [f"*.{kind}.{SFMC_DOMAIN}" for kind in KINDS]
    names += list(LEGACY_HOSTS)
    names += [f"webservice.s{n}.exacttarget.com" for n in STACKS]
    return [*names, "localhost"]
