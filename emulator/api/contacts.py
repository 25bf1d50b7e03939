"""Contacts: ``POST`` (create or update) and ``PATCH`` (update only) ``/contacts/v1/contacts``.

Scope ``list_and_subscribers_write``, which the seed's package is granted (AUTH-1).
"""

from __future__ import annotations

from flask import Blueprint

from ..domain.contacts import response
from ..openapi import _op, register
from .common import auth, emulator, json_body, ok, requires

bp = Blueprint("contacts", __name__)
WRITE = "list_and_subscribers_write"


@bp.post("/contacts/v1/contacts")
@requires(WRITE)
def create_contact():
    return ok(response(emulator().contacts.write(auth().tenant_id, json_body(dict), update=False)))


@bp.patch("/contacts/v1/contacts")
@requires(WRITE)
def update_contact():
    return ok(response(emulator().contacts.write(auth().tenant_id, json_body(dict), update=True)))


register(
    "post",
    "/contacts/v1/contacts",
    _op(
        "Create a contact, or update it when the contact key exists (isNewContactKey says which)",
        "contacts",
        body="ContactUpsert",
        scope=WRITE,
    ),
)
register(
    "patch",
    "/contacts/v1/contacts",
    _op(
        "Update an existing contact by contactKey or contactID (404 when it does not exist)",
        "contacts",
        body="ContactUpsert",
        scope=WRITE,
    ),
)
