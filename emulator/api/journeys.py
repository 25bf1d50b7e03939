"""Journey Builder: ``/interaction/v1/events``, ``/interaction/v1/async/events`` and event definitions.

Scope (inferred): every call here needs ``journeys_read``. SFMC's docs ask for the "Automation |
Interactions | Read" permission to create and update event definitions and name no other, and the
seed's package is granted only Journeys: Read (AUTH-1), yet it fires events (API-1). Deleting a
definition takes the same scope, so one package can manage what it created.
"""

from __future__ import annotations

from flask import Response, request

from .. import errors
from ..domain.journeys import definition_view, schema_data_extension, schema_view
from ..openapi import page_params, query
from .common import auth, emulator, json_body, ok, paged, reference, write_capture
from .routes import Api

JOURNEYS = "journeys_read"
TAG = "journey-builder"
api = Api("journeys", __name__, tag=TAG)


@api.post(
    "/interaction/v1/events",
    "Fire an API event: the contact enters the journey, Data becomes a row of the event's DE",
    ok=201,
    body="ApiEvent",
    response="EventInstance",
    scope=JOURNEYS,
)
def fire_event():
    entry = emulator().journeys.fire(auth().tenant_id, json_body(dict), capture=write_capture())
    return ok({"eventInstanceId": entry["eventInstanceId"]}, 201)


@api.post(
    "/interaction/v1/async/events",
    "Fire an API event for up to 100 members, each accepted or refused on its own",
    ok=202,
    body="AsyncApiEvents",
    response="AsyncEventsAccepted",
    scope=JOURNEYS,
)
def fire_events():
    fired = emulator().journeys.fire_many(auth().tenant_id, json_body(dict), capture=write_capture())
    return ok(fired, 202)


def _definition(raw: str) -> dict:
    ref = reference(raw)
    journeys = emulator().journeys
    if ref.kind == "key":
        found = journeys.find(auth().tenant_id, key=ref.value)
    else:
        found = journeys.find(auth().tenant_id, definition_id=ref.value if ref.kind == "id" else ref.raw)
    if found is None:
        raise errors.not_found(f"Event definition '{raw}' was not found.")
    return found


@api.get(
    "/interaction/v1/eventDefinitions",
    "List event definitions",
    scope=JOURNEYS,
    response="EventDefinitionList",
    params=[
        *page_params(50),
        query("name", "substring of the name"),
    ],
)
def list_definitions():
    name = (request.args.get("name") or "").lower()
    found = [d for d in emulator().journeys.definitions(auth().tenant_id) if name in d["name"].lower()]
    page = paged(found, definition_view, page_size=50, max_page_size=50)
    items = page.pop("items")
    return ok({**page, "links": {}, "items": items})  # the recorded list carries an empty links object


@api.post(
    "/interaction/v1/eventDefinitions",
    "Create an event definition (eventDefinitionKey, name, dataExtensionId)",
    ok=201,
    body="NewEventDefinition",
    response="EventDefinitionView",
    scope=JOURNEYS,
)
def create_definition():
    """With only a ``schema``, SFMC creates the event's DE first and echoes its schema (devtools-events)."""
    body = json_body(dict)
    de_body = schema_data_extension(body, emulator().clock.now())
    if de_body is None:
        return ok(definition_view(emulator().journeys.create(auth().tenant_id, body)), 201)
    de = emulator().data_extensions.create(auth().tenant_id, de_body)
    definition = emulator().journeys.create(auth().tenant_id, {**body, "dataExtensionId": de.id})
    return ok(definition_view(definition, schema_view(de)), 201)


@api.get(
    "/interaction/v1/eventDefinitions/<ref>",
    "Get an event definition by id or key:{key}",
    response="EventDefinitionView",
    scope=JOURNEYS,
)
def get_definition(ref: str):
    return ok(definition_view(_definition(ref)))


@api.put(
    "/interaction/v1/eventDefinitions/<ref>",
    "Update an event definition by id or key:{key}",
    body="EventDefinition",
    response="EventDefinitionView",
    scope=JOURNEYS,
)
def update_definition(ref: str):
    current = _definition(ref)
    return ok(definition_view(emulator().journeys.update(auth().tenant_id, current, json_body(dict))))


@api.delete(
    "/interaction/v1/eventDefinitions/<ref>",
    "Delete an event definition by id or key:{key} (200, no body)",
    ok_media=None,
    scope=JOURNEYS,
)
def delete_definition(ref: str):
    emulator().journeys.delete(auth().tenant_id, _definition(ref))
    return Response(status=200)  # SFMC answers a delete with an empty body (devtools-events)
