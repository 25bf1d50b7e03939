"""Contacts: ``POST`` (create or update) and ``PATCH`` (update only) ``/contacts/v1/contacts``.

Scope ``list_and_subscribers_write``, which the seed's package is granted (AUTH-1).
"""

from __future__ import annotations

from ..domain.contacts import response
from .common import auth, emulator, json_body, ok
from .routes import Api

api = Api("contacts", __name__, tag="contacts")
WRITE = "list_and_subscribers_write"


@api.post(
    "/contacts/v1/contacts",
    "Create a contact, or update it when the contact key exists (isNewContactKey says which)",
    body="ContactUpsert",
    response="ContactResult",
    scope=WRITE,
)
def create_contact():
    return ok(response(emulator().contacts.write(auth().tenant_id, json_body(dict), update=False)))


@api.patch(
    "/contacts/v1/contacts",
    "Update an existing contact by contactKey or contactID (404 when it does not exist)",
    body="ContactUpdate",
    response="ContactResult",
    scope=WRITE,
)
def update_contact():
    return ok(response(emulator().contacts.write(auth().tenant_id, json_body(dict), update=True)))
