"""The emulator's core object: tenants, auth, throttling and Data Extension rows over one store.

The HTTP layer (``emulator/api``) parses requests and renders answers; everything it decides
it asks of an ``Emulator``. The CLI and tests can use the same object directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

from . import errors
from .clock import Clock
from .domain import auth
from .domain.auth import AuthContext
from .domain.faults import FaultSet
from .domain.filters import Compare, FilterError, columns_in, parse_filter
from .domain.journal import ANY, Journal
from .domain.rows import RowInput, RowPlan, plan_rows
from .domain.rowsets import Cursors
from .domain.schema import DataExtension, DefinitionError, build_data_extension
from .domain.stats import Stats
from .domain.tenants import Tenant, TenantError, TenantSettings, build_tenant
from .domain.throttle import Decision, Throttle
from .engagement import Contacts, Journeys
from .errors import OAuthError, SfmcError
from .jobs import AsyncJobs
from .store import Store

TOKEN_CACHE_SIZE = 10_000


@dataclass
class Config:
    database: str = ":memory:"
    default_settings: TenantSettings = field(default_factory=TenantSettings)
    admin_token: str | None = None  # when set, /_emulator calls need it (Bearer or X-Emulator-Admin-Token)
    journal_size: int = 1000  # request-journal entries kept per tenant before the oldest is evicted


class Emulator:
    def __init__(self, store: Store, clock: Clock | None = None, config: Config | None = None):
        self.store = store
        self.clock = clock or Clock()
        self.config = config or Config()
        self.throttle = Throttle(self.clock)
        self.faults = FaultSet(self.clock)
        self.journal = Journal(self.clock, self.config.journal_size)
        self.stats = Stats(self.clock)
        self.async_queue_depth: Callable[[], int] = lambda: 0  # the async engine replaces it; read by /metrics
        self._lock = threading.RLock()
        self._token_cache: dict[str, dict] = {}
        self._tenants: dict[str, Tenant] = {}
        self._clients: dict[str, str] = {}  # client_id -> tenant id
        self._des: dict[str, list[DataExtension]] = {}
        self.cursors = Cursors()  # row-read cursors behind each requestToken
        for tenant in store.list_tenants():
            self._remember(tenant)
        # async Data Extension jobs (a worker thread), Journey Builder events, contacts: see jobs.py, engagement.py
        self.async_jobs = AsyncJobs(self)
        self.async_queue_depth = self.async_jobs.queue_depth
        self.journeys = Journeys(self)
        self.contacts = Contacts(self)

    # -- tenants ------------------------------------------------------------------------------

    def _remember(self, tenant: Tenant) -> None:
        self._tenants[tenant.id] = tenant
        for package in tenant.packages:
            self._clients[package.client_id] = tenant.id
        self._des[tenant.id] = self.store.list_data_extensions(tenant.id)

    def create_tenant(self, raw: dict, *, replace: bool = False) -> Tenant:
        """Create a tenant with its Data Extensions; raises TenantError listing every problem."""
        des, problems = [], []
        try:
            tenant = build_tenant(raw, now=self.clock.now(), base_settings=self.config.default_settings)
            title_case = tenant.settings.require_title_case
        except TenantError as err:
            tenant, problems = None, list(err.problems)
            title_case = (raw.get("settings") or {}).get("require_title_case", True) is not False
        for i, de_raw in enumerate(raw.get("data_extensions") or []):
            try:
                des.append(build_data_extension(de_raw, require_title_case=title_case, now=self.clock.now()))
            except DefinitionError as err:
                problems.extend(f"data_extensions[{i}]: {p}" for p in err.problems)
        keys = [d.key.lower() for d in des]
        problems.extend(f"data_extensions: key '{k}' is used twice" for k in set(keys) if keys.count(k) > 1)
        events, event_problems = self.journeys.build_for_tenant(
            raw.get("event_definitions") or [], des, self.clock.now()
        )
        problems.extend(event_problems)
        if tenant is None:
            raise TenantError(problems)
        with self._lock:
            if tenant.id in self._tenants and not replace:
                problems.append(f"id: a tenant '{tenant.id}' already exists")
            for package in tenant.packages:
                owner = self._clients.get(package.client_id)
                if owner not in (None, tenant.id):
                    problems.append(f"packages: client_id '{package.client_id}' belongs to tenant '{owner}'")
            if problems:
                raise TenantError(problems)
            if tenant.id in self._tenants:
                self.delete_tenant(tenant.id)
            self.store.put_tenant(tenant)
            for de in des:
                self.store.put_data_extension(tenant.id, de)
            for definition in events:
                self.store.put_event_definition(tenant.id, definition)
            self._remember(tenant)
        return tenant

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def tenants(self) -> list[Tenant]:
        return sorted(self._tenants.values(), key=lambda t: t.id)

    def delete_tenant(self, tenant_id: str) -> bool:
        with self._lock:
            tenant = self._tenants.pop(tenant_id, None)
            if tenant is None:
                return False
            for package in tenant.packages:
                self._clients.pop(package.client_id, None)
            self._des.pop(tenant_id, None)
            self.throttle.forget(tenant_id)
            self.journal.clear(tenant_id)
            self.stats.forget(tenant_id)
            self.async_jobs.forget(tenant_id)
            self.cursors.forget(tenant_id)
            self._token_cache.clear()
            return self.store.delete_tenant(tenant_id)

    def update_settings(self, tenant_id: str, changes: dict) -> Tenant:
        with self._lock:
            tenant = self._tenants[tenant_id]
            updated = Tenant(**{**vars(tenant), "settings": tenant.settings.updated(changes)})
            self.store.put_tenant(updated)
            self._tenants[tenant_id] = updated
            return updated

    def reset(self, tenant_id: str | None = None) -> None:
        """Clear rows, tokens and logs (of one tenant or all); definitions stay."""
        self.store.reset(tenant_id)
        self._token_cache.clear()
        self.throttle.forget(tenant_id)
        self.journal.clear(ANY if tenant_id is None else tenant_id)
        self.stats.forget(tenant_id, everything=tenant_id is None)
        self.faults.clear(tenant_id)
        self.async_jobs.forget(tenant_id)
        self.cursors.forget(tenant_id)

    # -- auth ---------------------------------------------------------------------------------

    def _tenant_of_client(self, client_id: object) -> Tenant | None:
        tenant_id = self._clients.get(str(client_id)) if client_id else None
        return self._tenants.get(tenant_id) if tenant_id else None

    def issue_token(self, body: dict, base_url: str) -> dict:
        """``POST /v2/token``; instance URLs point at ``base_url``, where the client reached us."""
        if body.get("grant_type") != "client_credentials":
            raise OAuthError(
                400, "unsupported_grant_type", "Use grant_type=client_credentials for server-to-server packages."
            )
        client_id, secret = body.get("client_id"), body.get("client_secret")
        if not client_id or not secret:
            raise OAuthError(401, "invalid_client", auth.INVALID_CLIENT)
        tenant = self._tenant_of_client(client_id)
        package = auth.check_client(tenant, str(client_id), str(secret))
        mid, scopes = auth.grant(tenant, package, body.get("account_id"), body.get("scope"))
        token, lifetime = self._store_token(tenant, mid, scopes, "v2")
        base = base_url.rstrip("/") + "/"
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime - 1,
            "scope": " ".join(scopes),
            "soap_instance_url": base,
            "rest_instance_url": base,
        }

    def issue_legacy_token(self, body: dict, legacy: bool) -> dict:
        """``POST /v1/requestToken``: the legacy endpoint used when no subdomain is configured."""
        client_id, secret = body.get("clientId"), body.get("clientSecret")
        tenant = self._tenant_of_client(client_id)
        if tenant is None or not secret:
            raise SfmcError(401, errors.NOT_AUTHORIZED, "Unauthorized")
        try:
            package = auth.check_client(tenant, str(client_id), str(secret))
        except OAuthError:
            raise SfmcError(401, errors.NOT_AUTHORIZED, "Unauthorized") from None
        token, lifetime = self._store_token(tenant, tenant.default_mid, package.scopes, "v1")
        out = {"accessToken": token, "expiresIn": lifetime}
        if legacy:
            out["legacyToken"] = auth.new_token()
        return out

    def _store_token(self, tenant: Tenant, mid: int, scopes, kind: str) -> tuple[str, int]:
        lifetime = int(tenant.settings.token_lifetime)
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
        self._remember_token(token, record)
        return token, lifetime

    def _remember_token(self, token: str, record: dict) -> None:
        """Tokens are read on every REST call: keep them in memory too (the store stays the truth)."""
        if len(self._token_cache) >= TOKEN_CACHE_SIZE:
            self._token_cache.clear()
        self._token_cache[token] = record

    def authenticate(self, authorization: str | None) -> AuthContext:
        """The caller behind an ``Authorization: Bearer`` header, or the 401 SFMC gives."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise errors.not_authorized()
        token = authorization[7:].strip()
        record = self._token_cache.get(token)
        if record is None and token:
            record = self.store.get_token(token)  # issued before a restart: it lives in the store
            if record is not None:
                self._remember_token(token, record)
        if record is None or record["tenant_id"] not in self._tenants or record.get("revoked"):
            raise errors.not_authorized()
        if record["expires_at"] <= self.clock.now():
            raise errors.not_authorized(expired=True)
        refusal = self.faults.token_refusal(record["tenant_id"], record["issued_at"])
        if refusal:
            raise errors.not_authorized(expired=refusal == "expired")
        return AuthContext(record["tenant_id"], record["mid"], frozenset(record["scopes"]), token, record["expires_at"])

    def admit(self, tenant_id: str) -> Decision:
        """Take one request from the tenant's rate limit."""
        settings = self._tenants[tenant_id].settings
        return self.throttle.check(tenant_id, settings.rate_limit, settings.burst)

    # -- data extensions ----------------------------------------------------------------------

    def data_extensions(self, tenant_id: str) -> list[DataExtension]:
        return list(self._des.get(tenant_id, []))

    def find_data_extension(self, tenant_id: str, *, key: str | None = None, de_id: str | None = None):
        """A tenant's DE by external key (case-insensitive) or id; None for anything else's."""
        for de in self._des.get(tenant_id, []):
            if (key is not None and de.key.lower() == key.lower()) or (de_id is not None and de.id == de_id.lower()):
                return de
        return None

    def create_data_extension(self, tenant_id: str, raw: object) -> DataExtension:
        tenant = self._tenants[tenant_id]
        try:
            de = build_data_extension(raw, require_title_case=tenant.settings.require_title_case, now=self.clock.now())
        except DefinitionError as err:
            raise errors.bad_request(
                "Unable to create the data extension: " + err.problems[0],
                errors.INCORRECT_FORMAT,
                [errors.detail(p, errors.INCORRECT_FORMAT) for p in err.problems],
            ) from None
        with self._lock:
            if self.find_data_extension(tenant_id, key=de.key) or self.find_data_extension(tenant_id, de_id=de.id):
                raise SfmcError(409, errors.ALREADY_EXISTS, f"A data extension with the key '{de.key}' already exists.")
            self.store.put_data_extension(tenant_id, de)
            self._des.setdefault(tenant_id, []).append(de)
        return de

    def add_fields(self, tenant_id: str, de: DataExtension, raw_fields: object) -> DataExtension:
        """Add nullable columns to an existing DE (how Personas syncs grow their DE, PER-2)."""
        if not isinstance(raw_fields, list) or not raw_fields:
            raise errors.bad_request("'fields' must be a non-empty list.", errors.INCORRECT_FORMAT)
        definition = {
            "name": de.name,
            "key": de.key,
            "id": de.id,
            "fields": [f.to_dict() for f in de.fields] + list(raw_fields),
        }
        title_case = self._tenants[tenant_id].settings.require_title_case
        try:
            grown = build_data_extension(definition, require_title_case=title_case, now=de.created_at)
        except DefinitionError as err:
            raise errors.bad_request(
                "Unable to add the fields: " + err.problems[0],
                errors.INCORRECT_FORMAT,
                [errors.detail(p, errors.INCORRECT_FORMAT) for p in err.problems],
            ) from None
        added = grown.fields[len(de.fields) :]
        if any(f.is_primary_key or not f.is_nullable for f in added):
            raise errors.bad_request(
                "Fields added to an existing data extension must be nullable and not part of the primary key.",
                errors.INCORRECT_FORMAT,
            )
        grown = de.with_fields(list(de.fields) + list(added))
        with self._lock:
            self.store.put_data_extension(tenant_id, grown)
            self._des[tenant_id] = [grown if d.id == de.id else d for d in self._des[tenant_id]]
        return grown

    # -- rows ---------------------------------------------------------------------------------

    def write_rows(
        self,
        tenant_id: str,
        de: DataExtension,
        rows: list[RowInput],
        *,
        source: str,
        insert_only: bool = False,
        stop_at_first_error: bool = True,
        then: Callable[[RowPlan], None] | None = None,
    ) -> RowPlan:
        """Validate and store rows; logs what was written and ignored. Row failures are in the plan.

        ``then(plan)`` runs in the rows' store transaction (an async job records its outcome with them).
        """
        strict = self._tenants[tenant_id].settings.strict_columns
        with self._lock:  # plan and write as one step, so concurrent upserts of a key never interleave
            plan = plan_rows(
                de,
                rows,
                lambda keys: self.store.rows_by_key(de.id, keys),
                strict=strict,
                insert_only=insert_only,
                stop_at_first_error=stop_at_first_error,
            )
            with self.store.transaction() if then is not None else nullcontext():
                if plan.writes or plan.appends:
                    self.store.write_rows(de.id, plan.writes, plan.appends)
                if then is not None:
                    then(plan)
        self.stats.record_write(
            tenant_id,
            saved=len(plan.saved),
            failed=len(plan.failed),
            ignored_keys=plan.ignored_keys,
            problems=[p for o in plan.failed for p in o.problems],
        )
        if plan.ignored_keys or plan.failed:
            self.store.log_write(
                tenant_id,
                {
                    "at": self.clock.now(),
                    "source": source,
                    "data_extension": de.key,
                    "rows_submitted": len(rows),
                    "rows_saved": len(plan.saved),
                    "ignored_keys": plan.ignored_keys,
                    "problems": [p for o in plan.failed for p in o.problems][:50],
                },
            )
        return plan

    def read_rows(self, de: DataExtension, *, page: int, page_size: int, filter_text: str | None):
        where = None
        if filter_text:
            try:
                where = parse_filter(filter_text)
            except FilterError as err:
                raise errors.bad_request(f"Invalid $filter: {err}", errors.INCORRECT_FORMAT) from None
            for name in columns_in(where):
                if de.column(name) is None:
                    raise errors.bad_request(
                        f"Invalid $filter: the column '{name}' does not exist.", errors.INCORRECT_FORMAT
                    )
            where = _canonical(where, de)
        return self.store.query_rows(de.id, where, (page - 1) * page_size, page_size)


def _canonical(node, de: DataExtension):
    if isinstance(node, Compare):
        return Compare(de.column(node.column).name, node.op, node.value)
    return type(node)(node.op, _canonical(node.left, de), _canonical(node.right, de))
