"""Journey Builder: ``/interaction/v1/events``, ``/interaction/v1/async/events`` and event definitions.

Scope (inferred): every call here needs ``journeys_read``. SFMC's docs ask for the "Automation |
Interactions | Read" permission to create and update event definitions and name no other, and the
seed's package is granted only Journeys: Read (AUTH-1), yet it fires events (API-1). Deleting a
definition takes the same scope, so one package can manage what it created.
"""

from __future__ import annotations

from flask import request

from .. import errors
from ..domain.journeys import definition_view
from ..openapi import PAGE, query
from .common import auth, emulator, int_arg, json_body, ok
from .routes import Api

JOURNEYS = "journeys_read"
TAG = "journey-builder"
api = Api("journeys", __name__, tag=TAG)


@api.post(
    "/interaction/v1/events",
    "Fire an API event: the contact enters the journey, Data becomes a row of the event's DE",
    ok=201,
    body="ApiEvent",
    scope=JOURNEYS,
)
def fire_event():
    entry = emulator().journeys.fire(auth().tenant_id, json_body(dict))
    return ok({"eventInstanceId": entry["eventInstanceId"]}, 201)


@api.post(
    "/interaction/v1/async/events",
    "Fire an API event for up to 100 members, each accepted or refused on its own",
    ok=202,
    body="AsyncApiEvents",
    scope=JOURNEYS,
)
def fire_events():
    return ok(emulator().journeys.fire_many(auth().tenant_id, json_body(dict)), 202)


def _definition(ref: str) -> dict:
    kind, sep, value = ref.partition(":")
    journeys = emulator().journeys
    if sep and kind.lower() == "key":
        found = journeys.find(auth().tenant_id, key=value)
    else:
        found = journeys.find(auth().tenant_id, definition_id=value if sep and kind.lower() == "id" else ref)
    if found is None:
        raise errors.not_found(f"Event definition '{ref}' was not found.")
    return found


@api.get(
    "/interaction/v1/eventDefinitions",
    "List event definitions",
    scope=JOURNEYS,
    params=[
        *PAGE,
        query("name", "substring of the name"),
    ],
)
def list_definitions():
    name = (request.args.get("name") or "").lower()
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", 50, 1, 50)
    found = [d for d in emulator().journeys.definitions(auth().tenant_id) if name in d["name"].lower()]
    items = [definition_view(d) for d in found[(page - 1) * page_size : page * page_size]]
    return ok({"count": len(found), "page": page, "pageSize": page_size, "items": items})


@api.post(
    "/interaction/v1/eventDefinitions",
    "Create an event definition (eventDefinitionKey, name, dataExtensionId)",
    ok=201,
    body="EventDefinition",
    scope=JOURNEYS,
)
def create_definition():
    return ok(definition_view(emulator().journeys.create(auth().tenant_id, json_body(dict))), 201)


@api.get("/interaction/v1/eventDefinitions/<ref>", "Get an event definition by id or key:{key}", scope=JOURNEYS)
def get_definition(ref: str):
    return ok(definition_view(_definition(ref)))


@api.put(
    "/interaction/v1/eventDefinitions/<ref>",
    "Update an event definition by id or key:{key}",
    body="EventDefinition",
    scope=JOURNEYS,
)
def update_definition(ref: str):
    current = _definition(ref)
    return ok(definition_view(emulator().journeys.update(auth().tenant_id, current, json_body(dict))))


@api.delete("/interaction/v1/eventDefinitions/<ref>", "Delete an event definition by id or key:{key}", scope=JOURNEYS)
def delete_definition(ref: str):
    emulator().journeys.delete(auth().tenant_id, _definition(ref))
    return ok({"deleted": True})
