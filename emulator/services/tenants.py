"""Tenants over the store: the registry of accounts and of which installed package belongs to which.

Rules for a tenant's shape live in ``domain/tenants.py``; the Data Extensions and event definitions
a new tenant brings are built (and checked) here too, so one answer lists every problem of a
definition. Clearing a deleted tenant's other state (tokens, journal, throttle) is ``core.Emulator``'s.
"""

from __future__ import annotations

import threading

from ..clock import Clock
from ..domain.data_extensions import DataExtension, DefinitionError, build_data_extension
from ..domain.journeys import build_for_tenant
from ..domain.tenants import Tenant, TenantError, TenantSettings, build_tenant
from ..store import Store


class Tenants:
    def __init__(self, store: Store, clock: Clock, default_settings: TenantSettings, lock: threading.RLock):
        self.store = store
        self.clock = clock
        self.default_settings = default_settings
        self.lock = lock  # shared with the Data Extension and row services: one writer at a time
        self._tenants: dict[str, Tenant] = {}
        self._clients: dict[str, str] = {}  # client_id -> tenant id
        for tenant in store.list_tenants():
            self._remember(tenant)

    def _remember(self, tenant: Tenant) -> None:
        self._tenants[tenant.id] = tenant
        for package in tenant.packages:
            self._clients[package.client_id] = tenant.id

    def get(self, tenant_id: str) -> Tenant | None:
        tenant = self._tenants.get(tenant_id)
        if tenant is None and self.store.shared and self.reload(tenant_id):  # created by another process
            tenant = self._tenants.get(tenant_id)
        return tenant

    def all(self) -> list[Tenant]:
        return sorted(self._tenants.values(), key=lambda t: t.id)

    def of_client(self, client_id: object) -> Tenant | None:
        """The tenant owning an installed package's client id, or None."""
        if not client_id:
            return None
        tenant_id = self._clients.get(str(client_id))
        if tenant_id is None and self.store.shared:  # perhaps installed through another process
            self.reload()
            tenant_id = self._clients.get(str(client_id))
        return self._tenants.get(tenant_id) if tenant_id else None

    def of_subdomain(self, subdomain: str) -> Tenant | None:
        """The tenant whose SFMC subdomain this is (host routing), or None."""
        tenant = next((t for t in list(self._tenants.values()) if t.subdomain == subdomain), None)
        if tenant is None and self.store.shared:  # perhaps created through another process, or a reload raced it
            self.reload()
            tenant = next((t for t in list(self._tenants.values()) if t.subdomain == subdomain), None)
        return tenant

    def reload(self, tenant_id: str | None = None) -> bool:
        """Take what another process changed from the store: one tenant, or all (a shared store
        announces each change, see ``Store.watch_definitions``). Whether the tenant exists."""
        with self.lock:
            if tenant_id is None:  # swapped whole: readers (who take no lock) never see a half-built registry
                tenants = {t.id: t for t in self.store.list_tenants()}
                clients = {p.client_id: t.id for t in tenants.values() for p in t.packages}
                self._tenants, self._clients = tenants, clients
                return True
            # read before touching the registry: readers (who take no lock) see the old tenant or the
            # new one, never none (a tenant missing for one round trip lost the settings `serve` applies)
            tenant = self.store.get_tenant(tenant_id)
            old = self._tenants.get(tenant_id)
            kept = {p.client_id for p in tenant.packages} if tenant else set()
            for package in old.packages if old else ():
                if package.client_id not in kept:
                    self._clients.pop(package.client_id, None)
            if tenant is None:
                self._tenants.pop(tenant_id, None)
            else:
                self._remember(tenant)
            return tenant is not None

    def build(self, raw: dict) -> tuple[Tenant | None, list[DataExtension], list[dict], list[str]]:
        """A tenant with its Data Extensions and event definitions, and every problem found building them."""
        des: list[DataExtension] = []
        problems: list[str] = []
        tenant: Tenant | None
        try:
            tenant = build_tenant(raw, now=self.clock.now(), base_settings=self.default_settings)
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
        events, event_problems = build_for_tenant(raw.get("event_definitions") or [], des, self.clock.now())
        problems.extend(event_problems)
        return tenant, des, events, problems

    def conflicts(self, tenant: Tenant, *, replace: bool) -> list[str]:
        """Why ``tenant`` cannot be stored next to the existing ones (call with the lock held)."""
        problems = []
        if tenant.id in self._tenants and not replace:
            problems.append(f"id: a tenant '{tenant.id}' already exists")
        for package in tenant.packages:
            owner = self._clients.get(package.client_id)
            if owner not in (None, tenant.id):
                problems.append(f"packages: client_id '{package.client_id}' belongs to tenant '{owner}'")
        return problems

    def put(self, tenant: Tenant, des: list[DataExtension], events: list[dict]) -> None:
        """Store a checked tenant with its definitions (call with the lock held)."""
        self.store.put_tenant(tenant)
        for de in des:
            self.store.put_data_extension(tenant.id, de)
        for definition in events:
            self.store.put_event_definition(tenant.id, definition)
        self._remember(tenant)

    def forget(self, tenant_id: str) -> Tenant | None:
        """Drop a tenant from the registry (the caller deletes its stored state); the tenant, if it existed."""
        with self.lock:
            tenant = self._tenants.pop(tenant_id, None)
            for package in tenant.packages if tenant else ():
                self._clients.pop(package.client_id, None)
            return tenant

    def update_settings(self, tenant_id: str, changes: dict) -> Tenant:
        with self.lock:
            tenant = self._tenants[tenant_id]
            updated = Tenant(**{**vars(tenant), "settings": tenant.settings.updated(changes)})
            self.store.put_tenant(updated)
            self._tenants[tenant_id] = updated
            return updated
