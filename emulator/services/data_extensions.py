"""Data Extension definitions over the store: a tenant's DEs by key or id, creating one, growing one.

``build_data_extension`` in ``domain/data_extensions.py`` decides what a definition may be; this
service keeps each tenant's DEs in memory (read on every row write) and in the store.
"""

from __future__ import annotations

import threading

from .. import errors
from ..clock import Clock
from ..domain.data_extensions import DataExtension, DefinitionError, build_data_extension
from ..store import Store
from .tenants import Tenants


class DataExtensions:
    def __init__(self, store: Store, clock: Clock, tenants: Tenants, lock: threading.RLock):
        self.store = store
        self.clock = clock
        self.tenants = tenants
        self.lock = lock
        self._des: dict[str, list[DataExtension]] = {}
        for tenant in tenants.all():
            self.load(tenant.id)

    def load(self, tenant_id: str) -> None:
        """(Re)read a tenant's DEs from the store, after its definitions were stored. Under the lock, so
        a read that another process's change set off never lands after, and undoes, a change made here."""
        with self.lock:
            self._des[tenant_id] = self.store.list_data_extensions(tenant_id)

    def forget(self, tenant_id: str) -> None:
        self._des.pop(tenant_id, None)

    def ids_of_others(self, tenant_id: str) -> set[str]:
        """The DE ids every other tenant holds (a scenario may choose ids, never one of these)."""
        return {d.id for owner, held in self._des.items() if owner != tenant_id for d in held}

    def list(self, tenant_id: str) -> list[DataExtension]:
        return list(self._des.get(tenant_id, []))

    def find(self, tenant_id: str, *, key: str | None = None, de_id: str | None = None) -> DataExtension | None:
        """A tenant's DE by external key (case-insensitive) or id; None for anything else's."""
        found = self._find(tenant_id, key, de_id)
        if found is None and self.store.shared:  # perhaps created through another process
            self.load(tenant_id)
            found = self._find(tenant_id, key, de_id)
        return found

    def _find(self, tenant_id: str, key: str | None, de_id: str | None) -> DataExtension | None:
        for de in self._des.get(tenant_id, []):
            if (key is not None and de.key.lower() == key.lower()) or (de_id is not None and de.id == de_id.lower()):
                return de
        return None

    def create(self, tenant_id: str, raw: object) -> DataExtension:
        tenant = self.tenants.get(tenant_id)
        require_title_case = tenant.settings.require_title_case if tenant else True
        try:
            de = build_data_extension(raw, require_title_case=require_title_case, now=self.clock.now(), client_id=False)
        except DefinitionError as err:
            raise errors.invalid(err.problems, prefix="Unable to create the data extension: ") from None
        with self.lock:
            if self.find(tenant_id, key=de.key):
                raise errors.already_exists(f"A data extension with the key '{de.key}' already exists.")
            self.store.put_data_extension(tenant_id, de)
            self._des.setdefault(tenant_id, []).append(de)
        return de

    def delete(self, tenant_id: str, de: DataExtension) -> bool:
        """Remove a DE with its rows (SOAP ``Delete``)."""
        with self.lock:
            self._des[tenant_id] = [d for d in self._des.get(tenant_id, []) if d.id != de.id]
            return self.store.delete_data_extension(tenant_id, de.id)

    def add_fields(self, tenant_id: str, de: DataExtension, raw_fields: object) -> DataExtension:
        """Add nullable columns to an existing DE (how Personas syncs grow their DE, PER-2).

        The whole read-modify-write holds the lock and starts from the DE as stored now, not from the
        caller's copy, so concurrent additions all land (each sees the columns the others added).
        """
        if not isinstance(raw_fields, list) or not raw_fields:
            raise errors.incorrect_format("'fields' must be a non-empty list.")
        tenant = self.tenants.get(tenant_id)
        require_title_case = tenant.settings.require_title_case if tenant else True
        with self.lock:
            current = next((d for d in self._des.get(tenant_id, []) if d.id == de.id), de)
            definition = {
                "name": current.name,
                "key": current.key,
                "id": current.id,
                "fields": [f.to_dict() for f in current.fields] + list(raw_fields),
            }
            try:
                grown = build_data_extension(definition, require_title_case=require_title_case, now=current.created_at)
            except DefinitionError as err:
                raise errors.invalid(err.problems, prefix="Unable to add the fields: ") from None
            added = grown.fields[len(current.fields) :]
            if any(f.is_primary_key or not f.is_nullable for f in added):
                raise errors.incorrect_format(
                    "Fields added to an existing data extension must be nullable and not part of the primary key."
                )
            grown = current.with_fields(list(current.fields) + list(added))
            self.store.put_data_extension(tenant_id, grown)
            self._des[tenant_id] = [grown if d.id == current.id else d for d in self._des.get(tenant_id, [])]
        return grown
