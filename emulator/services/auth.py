"""Access tokens over the store: issuing them (``/v2/token``, ``/v1/requestToken``) and checking them.

Credential and scope rules live in ``domain/auth.py``. Tokens are read on every REST call, so they
are kept in memory too; the store stays the truth (a token issued before a restart still works).
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import errors
from ..clock import Clock
from ..domain import auth
from ..domain.auth import AuthContext
from ..domain.faults import FaultSet
from ..domain.tenants import Tenant
from ..errors import OAuthError
from ..store import Store
from .tenants import Tenants

TOKEN_CACHE_SIZE = 10_000


class Auth:
    def __init__(self, store: Store, clock: Clock, tenants: Tenants, faults: FaultSet):
        self.store = store
        self.clock = clock
        self.tenants = tenants
        self.faults = faults
        self._cache: dict[str, dict] = {}
        # token -> the AuthContext of its record, built on its first use: every check below still runs on
        # every call (an unknown or deleted tenant, revocation, expiry, fault rules); only the object is kept
        self._contexts: dict[str, AuthContext] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # legacy refreshToken -> (tenant id, client id)

    def issue(self, body: dict, base_url: str) -> dict:
        """``POST /v2/token``; instance URLs point at ``base_url``, where the client reached us."""
        if body.get("grant_type") != "client_credentials":
            raise errors.oauth_unsupported_grant_type()
        client_id, secret = body.get("client_id"), body.get("client_secret")
        if not client_id or not secret:
            raise errors.oauth_invalid_client(auth.INVALID_CLIENT)
        tenant = self.tenants.of_client(client_id)
        package = auth.check_client(tenant, str(client_id), str(secret))
        assert tenant is not None  # check_client refuses an unknown client
        mid, scopes = auth.grant(tenant, package, body.get("account_id"), body.get("scope"))
        token, lifetime = self._store(tenant, mid, scopes, "v2")
        base = base_url.rstrip("/") + "/"
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": auth.reported_expiry(lifetime),
            "scope": " ".join(scopes),
            "soap_instance_url": base,
            "rest_instance_url": base,
        }

    def issue_legacy(self, body: dict, legacy: bool) -> dict:
        """``POST /v1/requestToken``: the legacy endpoint used when no subdomain is configured."""
        client_id, secret = body.get("clientId"), body.get("clientSecret")
        tenant = self.tenants.of_client(client_id)
        if tenant is None or not secret:
            raise errors.legacy_unauthorized()
        try:
            package = auth.check_client(tenant, str(client_id), str(secret))
        except OAuthError:
            raise errors.legacy_unauthorized() from None
        refresh = body.get("refreshToken")
        if refresh is not None and self._refresh.get(str(refresh)) != (tenant.id, str(client_id)):
            raise errors.legacy_unauthorized()
        lifetime = int(tenant.settings.legacy_token_lifetime)
        token, lifetime = self._store(tenant, tenant.default_mid, package.scopes, "v1", lifetime)
        out: dict = {"accessToken": token, "expiresIn": auth.reported_expiry(lifetime)}
        if str(body.get("accessType", "")).lower() == "offline":  # FuelSDK's offline access (fuelsdk)
            if refresh is not None:
                self._refresh.pop(str(refresh), None)
            if len(self._refresh) >= TOKEN_CACHE_SIZE:
                self._refresh.clear()
            out["refreshToken"] = auth.new_token()
            self._refresh[out["refreshToken"]] = (tenant.id, str(client_id))
        if legacy:  # the SOAP API accepts it in <oAuth><oAuthToken>
            out["legacyToken"], _ = self._store(tenant, tenant.default_mid, package.scopes, "legacy")
        return out

    def _store(
        self, tenant: Tenant, mid: int, scopes: Iterable[str], kind: str, lifetime: int | None = None
    ) -> tuple[str, int]:
        lifetime = int(tenant.settings.token_lifetime) if lifetime is None else lifetime
        token = auth.new_token()
        record = {
            "tenant_id": tenant.id,
            "mid": mid,
            "scopes": list(scopes),
            "kind": kind,
            "issued_at": self.clock.now(),
            "expires_at": self.clock.now() + lifetime,
        }
        self.store.put_token(token, record)
        self._remember(token, record)
        return token, lifetime

    def _remember(self, token: str, record: dict) -> None:
        if len(self._cache) >= TOKEN_CACHE_SIZE:
            self._cache.clear()
            self._contexts.clear()
        self._cache[token] = record

    def forget(self) -> None:
        """Drop the in-memory copies (after a reset or a tenant's deletion changed the store)."""
        self._cache.clear()
        self._contexts.clear()
        self._refresh.clear()

    def authenticate(self, authorization: str | None) -> AuthContext:
        """The caller behind an ``Authorization: Bearer`` header, or the 401 SFMC gives."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise errors.not_authorized()
        token = authorization[7:].strip()
        record = self._cache.get(token)
        if record is None and token:
            record = self.store.get_token(token)  # issued before a restart: it lives in the store
            if record is not None:
                self._remember(token, record)
        if record is None or self.tenants.get(record["tenant_id"]) is None or record.get("revoked"):
            raise errors.not_authorized()
        if record["expires_at"] <= self.clock.now():
            raise errors.not_authorized(expired=True)
        if self.faults.any_rules:
            refusal = self.faults.token_refusal(record["tenant_id"], record["issued_at"])
            if refusal:
                raise errors.not_authorized(expired=refusal == "expired")
        context = self._contexts.get(token)
        if context is None:  # a token's record never changes; both tables are emptied together
            context = AuthContext(
                record["tenant_id"], record["mid"], frozenset(record["scopes"]), token, record["expires_at"]
            )
            self._contexts[token] = context
        return context
