"""Contacts over the store: create or update a contact with its attribute sets, list them.

Rules live in ``domain/contacts.py``.
"""

from __future__ import annotations

import threading

from .. import errors
from ..clock import Clock
from ..domain import contacts as contact_rules
from ..store import Store


class Contacts:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()  # contact ids are allocated one at a time per emulator

    def write(self, tenant_id: str, body: dict, *, update: bool) -> dict:
        """Create or update (``update``: only update) a contact; the stored contact, or SfmcError."""
        key, contact_id, attributes, problems = contact_rules.parse_contact(body, update=update)
        if problems:
            raise errors.invalid_or_missing(problems)
        store = self.store
        with self._lock:
            existing = (
                store.get_contact(tenant_id, key=key)
                if key is not None
                else store.get_contact(tenant_id, contact_id=contact_id)
            )
            if existing is None and update:
                what = f"key '{key}'" if key is not None else f"ID {contact_id}"
                raise errors.not_found(f"No contact with the {what} exists; create it with POST /contacts/v1/contacts.")
            if (
                existing is not None
                and key is not None
                and contact_id is not None
                and existing["contactId"] != contact_id
            ):
                raise errors.invalid_parameter(f"contactID {contact_id} does not belong to the contact key '{key}'.")
            number = existing["contactId"] if existing else store.last_contact_id(tenant_id) + 1
            contact = contact_rules.merged(
                existing, existing["contactKey"] if existing else key, number, attributes, self.clock.now()
            )
            store.put_contact(tenant_id, contact)
        return contact

    def list(self, tenant_id: str, limit: int) -> list[dict]:
        return self.store.list_contacts(tenant_id, limit)
