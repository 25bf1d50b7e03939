"""The emulator: one object that builds the services over one store and one clock and wires them together.

Each SFMC API family is a service in ``emulator/services`` (tenants, auth, data_extensions, rows,
async_rows, journeys, contacts); the HTTP layer (``emulator/api``) reaches them through
``api.common.emulator()``. What crosses services (creating, deleting or resetting a tenant, which
touches every one of them) is done here; nothing else is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from .clock import Clock
from .domain.data_extensions import DataExtension
from .domain.faults import FaultSet
from .domain.journal import ANY, MAX_BYTES, Journal
from .domain.stats import Stats
from .domain.tenants import Tenant, TenantError, TenantSettings
from .domain.throttle import Decision, SharedThrottle, Throttle
from .services.async_rows import AsyncRows
from .services.auth import Auth
from .services.contacts import Contacts
from .services.data_extensions import DataExtensions
from .services.journeys import Journeys
from .services.rows import Rows
from .services.shared_async_rows import SharedAsyncRows
from .services.shared_faults import SharedFaultSet
from .services.shared_journal import SharedJournal
from .services.shared_stats import SharedStats
from .services.soap import Soap
from .services.tenants import Tenants
from .store import Store
from .store.base import SharedStore


@dataclass
class Config:
    database: str = ":memory:"
    default_settings: TenantSettings = field(default_factory=TenantSettings)
    admin_token: str | None = None  # when set, /_emulator calls need it (Bearer or X-Emulator-Admin-Token)
    journal_size: int = 1000  # request-journal entries kept per tenant before the oldest is evicted
    journal_bytes: int = MAX_BYTES  # all tenants' journal entries together; the oldest go first past it
    public_url: str | None = None  # instance URLs for clients reaching it by address (a TLS terminator's URL)
    trust_forwarded: bool = False  # honour X-Forwarded-Proto/-Host (only behind a proxy you run)
    workers: int = 1  # emulator processes serving one shared (PostgreSQL) database


class Emulator:
    def __init__(self, store: Store, clock: Clock | None = None, config: Config | None = None):
        self.store = store
        self.clock = clock or Clock()
        self.config = config or Config()
        self.throttle = (  # several processes on one database share each tenant's bucket through it
            SharedThrottle(self.clock, store.take_token, store.forget_buckets) if store.shared else Throttle(self.clock)
        )
        # several processes on one database share fault rules (and their firing counts) through it
        self.faults = SharedFaultSet(self.clock, cast(SharedStore, store)) if store.shared else FaultSet(self.clock)
        # the journal and the counters too: in this process's memory on SQLite, in the database when shared
        self.journal: Journal | SharedJournal
        self.stats: Stats
        if store.shared:
            shared = cast(SharedStore, store)
            self.journal = SharedJournal(self.clock, shared, self.config.journal_size, self.config.journal_bytes)
            self.stats = SharedStats(self.clock, shared)
        else:
            self.journal = Journal(self.clock, self.config.journal_size, self.config.journal_bytes)
            self.stats = Stats(self.clock)
        self._lock = threading.RLock()  # one writer at a time across tenants, definitions and rows
        self.tenants = Tenants(store, self.clock, self.config.default_settings, self._lock)
        self.auth = Auth(store, self.clock, self.tenants, self.faults)
        self.data_extensions = DataExtensions(store, self.clock, self.tenants, self._lock)
        self.rows = Rows(store, self.clock, self.tenants, self.stats, self._lock)
        self.async_rows = (SharedAsyncRows if store.shared else AsyncRows)(
            store, self.clock, self.faults, self.tenants.get, self.data_extensions.find, self.rows.write
        )
        self.journeys = Journeys(store, self.clock, self.data_extensions.find, self.rows.write)
        self.contacts = Contacts(store, self.clock)
        self.soap = Soap(self.clock, self.tenants.get, self.data_extensions, self.rows)
        self.async_queue_depth: Callable[[], int] = self.async_rows.queue_depth  # read by /metrics
        if store.shared:  # other processes change tenants and Data Extensions too
            store.watch_definitions(self._definitions_changed)

    def _definitions_changed(self, tenant_id: str | None) -> None:
        """A process (this one too) changed a tenant or its Data Extensions: read them again."""
        self.tenants.reload(tenant_id)
        for tid in [tenant_id] if tenant_id else [t.id for t in self.tenants.all()]:
            if self.tenants.get(tid) is None:
                self.data_extensions.forget(tid)
            else:
                self.data_extensions.load(tid)

    # -- what crosses services -----------------------------------------------------------------

    def create_tenant(self, raw: dict, *, replace: bool = False) -> Tenant:
        """Create a tenant with its Data Extensions; raises TenantError listing every problem."""
        tenant, des, events, problems = self.tenants.build(raw)
        if tenant is None:
            raise TenantError(problems)
        with self._lock:
            problems.extend(self.tenants.conflicts(tenant, replace=replace))
            problems.extend(self._ids_of_others(tenant.id, des, events))
            if problems:
                raise TenantError(problems)
            if self.tenants.get(tenant.id) is not None:
                self.delete_tenant(tenant.id)
            self.tenants.put(tenant, des, events)
            self.data_extensions.load(tenant.id)
        return tenant

    def _ids_of_others(self, tenant_id: str, des: list, events: list[dict]) -> list[str]:
        """A scenario may choose ids, but never one another tenant holds (ids stay unique emulator-wide)."""
        taken = self.data_extensions.ids_of_others(tenant_id)
        problems = [f"data_extensions: id '{d.id}' belongs to another tenant" for d in des if d.id in taken]
        if events:
            others = [t.id for t in self.tenants.all() if t.id != tenant_id]
            taken = {d["id"] for owner in others for d in self.store.list_event_definitions(owner)}
            problems += [
                f"event_definitions: id '{e['id']}' belongs to another tenant" for e in events if e["id"] in taken
            ]
        return problems

    def delete_tenant(self, tenant_id: str) -> bool:
        with self._lock:
            if self.tenants.forget(tenant_id) is None:
                return False
            self.data_extensions.forget(tenant_id)
            self.throttle.forget(tenant_id)
            self.journal.clear(tenant_id)
            self.stats.forget(tenant_id)
            self.async_rows.forget(tenant_id)
            self.rows.forget(tenant_id)
            self.auth.forget()
            return self.store.delete_tenant(tenant_id)

    def reset(self, tenant_id: str | None = None) -> None:
        """Clear rows, tokens and logs (of one tenant or all); definitions stay."""
        self.store.reset(tenant_id)
        self.auth.forget()
        self.throttle.forget(tenant_id)
        self.journal.clear(ANY if tenant_id is None else tenant_id)
        self.stats.forget(tenant_id, everything=tenant_id is None)
        self.faults.clear(tenant_id)
        self.async_rows.forget(tenant_id)
        self.rows.forget(tenant_id)

    def admit(self, tenant_id: str) -> Decision:
        """Take one request from the tenant's rate limit."""
        tenant = self.tenants.get(tenant_id)
        settings = tenant.settings if tenant else self.config.default_settings
        return self.throttle.check(tenant_id, settings.rate_limit, settings.burst)

    # -- shorthands for scripts, the CLI and tests ---------------------------------------------

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def find_data_extension(
        self, tenant_id: str, *, key: str | None = None, de_id: str | None = None
    ) -> DataExtension | None:
        return self.data_extensions.find(tenant_id, key=key, de_id=de_id)
