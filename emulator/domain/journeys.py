"""Journey Builder API events: event definitions and the rules of firing an event, no I/O.

An event definition ties an ``eventDefinitionKey`` to the Data Extension its entry data is written
to. Firing an event (``POST /interaction/v1/events``) validates the contact key, resolves the
definition and turns ``Data`` into one row for the shared row validator. Rules taken here:

* Property names of an event body match in any case (``contactKey``, ``ContactKey``, ``CONTACTKEY``).
* A contact key may not contain ``:`` (the seed's ID-3: SFMC refuses it).
* If the event's DE has a ``Contact Key`` (or ``ContactKey``) column and ``Data`` gives no value for
  it, the event's contact key is written there (inferred: SFMC fills the entry's contact key into
  the event DE's contact key field).
* An event definition key may not contain a period (SFMC's docs: "Do not include a period").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol, TypedDict

from .data_extensions import DataExtension
from .problems import Problems
from .rows import RowInput

MAX_ASYNC_MEMBERS = 100
CONTACT_KEY_COLUMNS = ("contact key", "contactkey")
MAX_CONTACT_KEY = 254


class EventDefinitionError(Problems):
    """An event definition SFMC would refuse."""


class EventDefinition(TypedDict):
    """An event definition as stored; ``*Date`` are ISO 8601 texts."""

    id: str
    key: str
    name: str
    description: str
    type: str
    mode: str
    dataExtensionId: str
    dataExtensionKey: str
    dataExtensionName: str
    createdDate: str
    modifiedDate: str


class FindDataExtension(Protocol):
    """Resolves an event's target DE by external key or id (None: no such DE)."""

    def __call__(self, *, key: str | None = None, de_id: str | None = None) -> DataExtension | None: ...


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def _first(raw: Mapping[str, object], *names: str) -> object:
    for name in names:
        if raw.get(name) not in (None, ""):
            return raw[name]
    return None


def build_definition(
    raw: object,
    find_de: FindDataExtension,
    *,
    now: float,
    current: EventDefinition | None = None,
    client_id: bool = True,
) -> EventDefinition:
    """A stored event definition from an API body (``eventDefinitionKey``, ``name``, ``dataExtensionId``)
    or a scenario entry (``key``, ``name``, ``data_extension`` as an external key).

    ``find_de(key=..., de_id=...)`` resolves the target DE. ``current`` is the definition being
    updated: what the body leaves out is kept. ``client_id=False`` (the REST API): a new definition's
    id is assigned here whatever the body says, as SFMC does (sfmc-devtools marks ``id``
    ``isCreateable: false``); scenario files may choose one. Raises EventDefinitionError.
    """
    if not isinstance(raw, dict):
        raise EventDefinitionError(["an event definition must be a JSON object"])
    problems = []
    key = _first(raw, "eventDefinitionKey", "key") or (current["key"] if current else None)
    if not isinstance(key, str) or not key.strip():
        problems.append("'eventDefinitionKey' is required")
    elif "." in key or len(key) > 200:
        problems.append(f"eventDefinitionKey '{key}': use at most 200 characters and no period")
    name = _first(raw, "name") or (current["name"] if current else None) or key
    de = None
    de_id, de_key = _first(raw, "dataExtensionId"), _first(raw, "data_extension", "dataExtensionKey")
    if de_id is not None:
        de = find_de(de_id=str(de_id))
        if de is None:
            problems.append(f"dataExtensionId: no data extension with the ID '{de_id}'")
    elif de_key is not None:
        de = find_de(key=str(de_key))
        if de is None:
            problems.append(f"data_extension: no data extension with the external key '{de_key}'")
    elif current:
        de = find_de(de_id=current["dataExtensionId"])
        if de is None:
            problems.append(f"dataExtensionId: no data extension with the ID '{current['dataExtensionId']}'")
    else:
        problems.append("'dataExtensionId' is required: entry data is written to that data extension")
    if problems or de is None or not isinstance(key, str):  # de and key are known when nothing is wrong
        raise EventDefinitionError(problems)
    base: EventDefinition | dict[str, str] = current or {}  # what the body leaves out is kept
    return {
        "id": base.get("id") or str((_first(raw, "id") if client_id else None) or uuid.uuid4()).lower(),
        "key": key,
        "name": str(name),
        "description": str(_first(raw, "description") or base.get("description") or ""),
        "type": str(_first(raw, "type") or base.get("type") or "APIEvent"),
        "mode": str(_first(raw, "mode") or base.get("mode") or "Production"),
        "dataExtensionId": de.id,
        "dataExtensionKey": de.key,
        "dataExtensionName": de.name,
        "createdDate": base.get("createdDate") or iso(now),
        "modifiedDate": iso(now),
    }


NO_ID = "00000000-0000-0000-0000-000000000000"


def _no_offset(text: str) -> str:
    """``2024-11-07T04:58:46.51``: SFMC's event-definition dates carry no UTC offset (devtools-events)."""
    return text.split("+")[0].removesuffix("Z").rstrip("0").rstrip(".")


def definition_view(definition: EventDefinition, schema: dict[str, object] | None = None) -> dict[str, object]:
    """An event definition as ``/interaction/v1/eventDefinitions`` answers it: the recorded fields only."""
    out: dict[str, object] = {
        "id": definition["id"],
        "type": definition["type"],
        "name": definition["name"],
        "description": definition["description"],
        "createdDate": _no_offset(definition["createdDate"]),
        "modifiedDate": _no_offset(definition["modifiedDate"]),
        "mode": definition["mode"],
        "eventDefinitionKey": definition["key"],
        "dataExtensionId": definition["dataExtensionId"],
        "dataExtensionName": definition["dataExtensionName"],
    }
    if schema is not None:
        out["schema"] = schema
    out.update(
        {
            "arguments": {
                "serializedObjectType": 11,
                "eventDefinitionKey": definition["key"],
                "eventDefinitionId": definition["id"],
                "dataExtensionId": definition["dataExtensionId"],
            },
            "metaData": {},
            "interactionCount": 0,
            "isVisibleInPicker": True,
            "category": "Event",
            "publishedInteractionCount": 0,
            "automationId": NO_ID,
        }
    )
    return out


def schema_data_extension(body: Mapping[str, object], now: float) -> dict[str, object] | None:
    """The DE a ``POST /interaction/v1/eventDefinitions`` with only a ``schema`` creates, named
    ``{name} - {timestamp}`` as SFMC names it (devtools-events); None when the body names a DE."""
    schema = body.get("schema")
    if not isinstance(schema, dict) or body.get("dataExtensionId") or body.get("dataExtensionKey"):
        return None
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H%M%S%f")[:-3]
    name = schema.get("name") or f"{body.get('name') or body.get('eventDefinitionKey') or 'Event'} - {stamp}"
    fields: list[object] = []
    for given in schema.get("fields") or []:
        if not isinstance(given, dict):
            fields.append(given)  # the DE builder explains what is wrong with it
            continue
        length = given.get("maxLength", given.get("length"))
        field: dict[str, object] = {
            "name": given.get("name"),
            "type": given.get("dataType", given.get("type", "Text")),
            "isPrimaryKey": bool(given.get("isPrimaryKey", False)),
            "isNullable": bool(given.get("isNullable", not given.get("isPrimaryKey", False))),
        }
        if length not in (None, ""):
            field["length"] = length
        fields.append(field)
    return {"name": name, "fields": fields}


def schema_view(de: DataExtension) -> dict[str, object]:
    """The ``schema`` of an event definition whose DE the API created, as SFMC echoes it."""
    fields = []
    for column in de.fields:
        out: dict[str, object] = {"name": column.name, "dataType": column.type}
        if column.length is not None and column.type != "Decimal":
            out["maxLength"] = str(column.length)
        out.update(
            {"isNullable": column.is_nullable, "isPrimaryKey": column.is_primary_key, "isDevicePreference": False}
        )
        fields.append(out)
    return {"id": de.id, "name": de.name, "fields": fields}


def contact_key_problem(value: object, name: str = "ContactKey") -> str | None:
    """Why a contact key is refused, or None (numbers are taken as their text)."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        return f"{name} is required and must be a non-empty string."
    text = str(value)
    if ":" in text:
        return f"{name} '{text}' is invalid: a contact key may not contain ':'."
    if len(text) > MAX_CONTACT_KEY:
        return f"{name} is invalid: a contact key has at most {MAX_CONTACT_KEY} characters."
    return None


def any_case(body: Mapping[object, object]) -> dict[str, object]:
    """A body's top-level names lower-cased (the first spelling of a name wins)."""
    out: dict[str, object] = {}
    for name, value in body.items():
        out.setdefault(str(name).lower(), value)
    return out


def parse_event(body: Mapping[object, object]) -> tuple[str, str, dict[str, object], list[str]]:
    """(contact key, event definition key, data, problems) of an event body, names in any case."""
    fields = any_case(body)
    problems = []
    contact = fields.get("contactkey")
    event_key = fields.get("eventdefinitionkey")
    data = fields.get("data")
    if (problem := contact_key_problem(contact)) is not None:
        problems.append(problem)
    if not isinstance(event_key, str) or not event_key.strip():
        problems.append("EventDefinitionKey is required.")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        problems.append("Data must be an object of the event's attributes.")
        data = {}
    return ("" if contact is None else str(contact)), (event_key if isinstance(event_key, str) else ""), data, problems


def event_row(de: DataExtension, contact_key: str, data: Mapping[str, object]) -> RowInput:
    """The row an event writes: ``Data`` split by the DE's primary keys, the contact key filled in."""
    keys: dict[str, object] = {}
    values: dict[str, object] = {}
    given = {column.name for name in data if (column := de.column(name)) is not None}
    for column in de.fields:
        if column.name.lower() in CONTACT_KEY_COLUMNS and column.name not in given:
            (keys if column.is_primary_key else values)[column.name] = contact_key
    for name, value in data.items():
        column = de.column(name)
        (keys if column is not None and column.is_primary_key else values)[name] = value
    return RowInput(keys, values)


def journey_entry(
    definition: EventDefinition, contact_key: str, data: Mapping[str, object], *, now: float, source: str
) -> dict[str, object]:
    return {
        "eventInstanceId": str(uuid.uuid4()),
        "contactKey": contact_key,
        "eventDefinitionKey": definition["key"],
        "eventDefinitionId": definition["id"],
        "dataExtension": definition["dataExtensionKey"],
        "data": data,
        "at": now,
        "time": iso(now),
        "source": source,
    }


def build_for_tenant(
    raws: list[object], des: list[DataExtension], now: float
) -> tuple[list[EventDefinition], list[str]]:
    """Definitions of a new tenant (scenario or admin API), checked against its DEs before anything is stored."""

    def find_de(*, key: str | None = None, de_id: str | None = None) -> DataExtension | None:
        return next(
            (
                d
                for d in des
                if (key is not None and d.key.lower() == key.lower()) or (de_id is not None and d.id == de_id.lower())
            ),
            None,
        )

    built: list[EventDefinition] = []
    problems: list[str] = []
    for i, raw in enumerate(raws):
        try:
            built.append(build_definition(raw, find_de, now=now))
        except EventDefinitionError as err:
            problems.extend(f"event_definitions[{i}]: {p}" for p in err.problems)
    keys = [d["key"].lower() for d in built]
    problems.extend(f"event_definitions: key '{k}' is used twice" for k in sorted(set(keys)) if keys.count(k) > 1)
    return built, problems
