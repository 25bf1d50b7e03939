"""OAuth2 client-credentials (v2) and legacy (v1) token rules.

Pure decisions: which package a client id belongs to, which scopes and MID a token gets, and
what a presented token means at a given time. Storage of tokens is the caller's business.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .. import errors
from .tenants import Package, Tenant

INVALID_CLIENT = (
    "Client authentication failed. Make sure that the client ID and client secret are valid and that "
    "the package is installed and enabled."
)


@dataclass(frozen=True)
class AuthContext:
    """Who is calling: resolved from the bearer token on every REST call."""

    tenant_id: str
    mid: int
    scopes: frozenset[str]
    token: str
    expires_at: float


def check_client(tenant: Tenant | None, client_id: str, client_secret: str) -> Package:
    package = next((p for p in tenant.packages if p.client_id == client_id), None) if tenant else None
    if package is None or not secrets.compare_digest(package.client_secret, str(client_secret)):
        raise errors.oauth_invalid_client(INVALID_CLIENT)
    return package


def grant(tenant: Tenant, package: Package, account_id: object, scope: object) -> tuple[int, tuple[str, ...]]:
    """The MID and scopes a v2 token gets; raises OAuthError as SFMC's auth server does."""
    mid = tenant.default_mid
    if account_id not in (None, ""):
        try:
            mid = int(str(account_id).strip())
        except ValueError:
            raise errors.oauth_invalid_request(f"account_id '{account_id}' is not a MID.") from None
        if not tenant.has_mid(mid):
            raise errors.oauth_unauthorized_client(
                f"The client is not authorized for account_id {mid}: it is not a business unit "
                "of this account, or the package is not installed there.",
            )
    if scope is None:
        return mid, package.scopes
    if not isinstance(scope, str):
        raise errors.oauth_invalid_request("scope must be a space-separated string.")
    requested = tuple(dict.fromkeys(scope.split()))
    extra = [s for s in requested if s not in package.scopes]
    if extra:
        raise errors.oauth_invalid_scope(
            f"The package was not granted: {' '.join(extra)}. Add the permissions to the "
            "installed package or narrow the requested scope.",
        )
    return mid, requested


def new_token() -> str:
    return secrets.token_urlsafe(48)


EXPIRY_MARGIN = 121  # SFMC reports a token's life about two minutes short: 1079 s of 20 min (v2), 3479 s of 1 h (v1)


def reported_expiry(lifetime: int) -> int:
    """``expires_in``/``expiresIn`` for a token that lives ``lifetime`` seconds (probe-notes, postman-v1)."""
    return max(1, lifetime - EXPIRY_MARGIN) if lifetime > EXPIRY_MARGIN else max(1, lifetime - 1)
