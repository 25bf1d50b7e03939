"""Contacts (``/contacts/v1/contacts``): parsing a create/update body and merging attributes, no I/O.

A contact is kept as ``{"contactKey", "contactId", "attributes": {set name: {attribute: value}},
"isNewContactKey", "createdDate", "modifiedDate"}``. ``POST`` creates the contact or updates an
existing one (``isNewContactKey`` says which); ``PATCH`` only updates. Attribute sets arrive as
``[{"name", "items": [{"values": [{"name", "value"}]}]}]`` (a set's ``values`` directly is accepted
too); an empty ``attributeSets`` list is accepted (the seed's connector sends one).
"""

from __future__ import annotations

import uuid
from typing import Any

from .journeys import contact_key_problem, iso


def parse_contact(body: dict[str, Any], *, update: bool) -> tuple[str | None, int | None, dict[str, Any], list[str]]:
    """(contact key, contact id, attributes by set, problems) of a request body."""
    problems: list[str] = []
    key, contact_id = body.get("contactKey"), body.get("contactID", body.get("contactId"))
    if contact_id is not None:
        given = contact_id
        try:  # bounded before conversion: no 5,000-digit text, no infinity, nothing past a 64-bit id
            if isinstance(given, bool) or (isinstance(given, str) and len(given) > 20):
                raise ValueError(given)
            contact_id = int(given)
            if (isinstance(given, float) and given != contact_id) or not 1 <= contact_id < 2**63:
                raise ValueError(given)
        except (TypeError, ValueError, OverflowError):
            problems.append(f"contactID '{str(given)[:40]}' is invalid: it must be a whole number 1..{2**63 - 1}.")
            contact_id = None
    if key is None and (contact_id is None or not update):
        problems.append("contactKey is required." if not update else "contactKey or contactID is required.")
    elif key is not None and (problem := contact_key_problem(key, "contactKey")) is not None:
        problems.append(problem)
    attributes: dict[str, dict[str, Any]] = {}
    sets = body.get("attributeSets")
    if sets is None:
        problems.append("attributeSets is required (an empty list is accepted).")
        sets = []
    if not isinstance(sets, list):
        problems.append("attributeSets must be a list.")
        sets = []
    for i, attribute_set in enumerate(sets):
        where = f"attributeSets[{i}]"
        if (
            not isinstance(attribute_set, dict)
            or not isinstance(attribute_set.get("name"), str)
            or not attribute_set["name"].strip()
        ):
            problems.append(f"{where}: each attribute set needs a 'name'.")
            continue
        target = attributes.setdefault(attribute_set["name"], {})
        items = attribute_set.get("items")
        groups = [attribute_set.get("values")] if items is None else items
        if not isinstance(groups, list):
            problems.append(f"{where}.items must be a list.")
            continue
        for j, group in enumerate(groups):
            values = group.get("values") if isinstance(group, dict) else group
            if values is None:
                continue
            if not isinstance(values, list):
                problems.append(f"{where}.items[{j}].values must be a list of {{name, value}} objects.")
                continue
            for value in values:
                if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
                    problems.append(f"{where}: each value needs a 'name' and a 'value'.")
                    continue
                target[value["name"]] = value.get("value")
    return (None if key is None else str(key)), contact_id, attributes, problems


def merged(
    existing: dict[str, Any] | None, key: str, contact_id: int, attributes: dict[str, Any], now: float
) -> dict[str, Any]:
    """The stored contact after a write: attribute sets merged value by value."""
    previous = (existing or {}).get("attributes", {})
    combined = {name: dict(values) for name, values in previous.items()}
    for name, values in attributes.items():
        combined.setdefault(name, {}).update(values)
    return {
        "contactKey": key,
        "contactId": contact_id,
        "attributes": combined,
        "isNewContactKey": existing is None,
        "createdDate": (existing or {}).get("createdDate") or iso(now),
        "modifiedDate": iso(now),
    }


def response(contact: dict[str, Any]) -> dict[str, Any]:
    """The 200 body of a create/update."""
    return {
        "operationStatus": "OK",
        "rowsAffected": 1,
        "contactKey": contact["contactKey"],
        "contactId": contact["contactId"],
        "contactTypeID": 0,
        "isNewContactKey": contact["isNewContactKey"],
        "isNewContactId": contact["isNewContactKey"],
        "hasErrors": False,
        "resultMessages": [],
        "requestServiceMessageID": str(uuid.uuid4()),
        "responseDateTime": contact["modifiedDate"],  # when SFMC answered (inferred: the write's time)
        "serviceMessageID": str(uuid.uuid4()),
    }
