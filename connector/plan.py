"""Plan one Segment event into the SFMC operations it calls for, without doing any of them.

``plan(event, settings)`` returns a ``Plan``: the operations to carry out, the parts of the event
that are not sent (each a ``Dropped`` with a reason code and a sentence citing the seed's rule)
and warnings about data that was changed or left out on the way. Every event gets at least one
operation or one ``Dropped``, so nothing disappears without a reason.

- identify (ID-1..ID-6, CTX-1/2): ``UpsertContact`` unless contacts are not created (ID-5,
  BAT-2); ``UpsertRow`` into the identify DE keyed by ``Contact Key`` when one is set (ID-4, ID-6).
- track (TR-1..TR-5, API-1, CTX-1/2): ``UpsertRow`` into the conversion event's DE; ``FireApiEvent``
  for a configured API event unless batching is on (BAT-2).
- identify/track carrying ``context.personas`` for an audience or computed trait (PER-1..PER-5):
  ``EnsurePersonasDataExtension`` (when the column type is known) then ``UpsertRow`` into the
  Personas DE. Such events do not also go to the identify or conversion DEs.
- page, screen, group, alias: not sent by this destination (``unsupported_type``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from connector.personas import (
    AUDIENCE,
    AUDIENCE_ENTERED,
    AUDIENCE_EXITED,
    COMPUTATION_CLASSES,
    CONTACT_KEY,
    DEFAULT_PERSONAS_DE_KEY,
    column_type_for,
)
from connector.settings import ConversionEvent, Settings
from connector.transform import (
    Scalar,
    UnsupportedValue,
    contact_key,
    context_attributes,
    flatten_payload,
    normalize_scalar,
    title_case,
)

UUID_COLUMN = "Uuid"
_CONTACT_KEY_FOLDED = CONTACT_KEY.casefold()  # folded once: every planned row's columns are compared to it


class DropReason(StrEnum):
    """Why (part of) an event is not sent."""

    NO_IDENTIFIER = "no_identifier"  # ID-1: neither userId nor email (also for API events, Personas)
    NOT_A_CONVERSION_EVENT = "not_a_conversion_event"  # TR-1: neither a conversion nor an API event
    UNSUPPORTED_TYPE = "unsupported_type"  # page, screen, group, alias, unknown
    MISSING_PRIMARY_KEY = "missing_primary_key"  # TR-3, TR-5: a key column has no value
    IDENTIFY_NOT_CONFIGURED = "identify_not_configured"  # ID-5/ID-6: no identify DE and no contacts
    API_EVENTS_DISABLED = "api_events_disabled"  # BAT-2: API events are not used with batching
    PERSONAS_VALUE_MISSING = "personas_value_missing"  # the audience/trait value is not in the event
    PERSONAS_VALUE_UNSUPPORTED = "personas_value_unsupported"  # nested, or unusable as a column
    MALFORMED_EVENT = "malformed_event"  # not a JSON object


# ---------------------------------------------------------------------------------------------
# Operations. Frozen: treat the dicts they hold as read-only too.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpsertRow:
    """Insert or update one DE row: ``keys`` are the primary key columns, ``values`` the rest."""

    de_key: str
    keys: dict[str, Scalar]
    values: dict[str, Scalar]
    source_message_id: str | None


@dataclass(frozen=True)
class UpsertContact:
    """Create or update the SFMC Contact with this Contact Key (ID-5)."""

    contact_key: str
    source_message_id: str | None


@dataclass(frozen=True)
class FireApiEvent:
    """Fire a Journey Builder entry event (API-1); ``data`` is the event's flattened row."""

    event_definition_key: str
    contact_key: str
    data: dict[str, Scalar]
    source_message_id: str | None


@dataclass(frozen=True)
class EnsurePersonasDataExtension:
    """Make sure the Personas DE can take ``column_name`` of ``column_type`` (PER-1, PER-2).

    With ``create_if_missing`` (no ``personas_de_key`` set) the DE is created under ``de_key``
    if it does not exist, from ``personas.new_data_extension_fields``. Otherwise it must exist
    and pass ``personas.requirements_problems``. Either way a missing column is added
    (``personas.column_field``). Result can be cached per (de_key, column_name).
    """

    de_key: str
    create_if_missing: bool
    column_name: str
    column_type: str
    source_message_id: str | None


@dataclass(frozen=True)
class Dropped:
    """A part of an event that is not sent: a stable code and a sentence that cites the rule."""

    reason_code: DropReason
    reason: str
    source_message_id: str | None


Operation = UpsertRow | UpsertContact | FireApiEvent | EnsurePersonasDataExtension
_OPERATION_TYPES: dict[str, type[Operation]] = {
    kind.__name__: kind for kind in (UpsertRow, UpsertContact, FireApiEvent, EnsurePersonasDataExtension)
}


def operation_to_dict(operation: Operation | Dropped) -> dict[str, Any]:
    """A JSON-ready dict with the operation's class name under ``"op"``."""
    return {"op": type(operation).__name__, **asdict(operation)}


def operation_from_dict(data: Mapping[str, Any]) -> Operation | Dropped:
    """The inverse of ``operation_to_dict`` (e.g. for an outbox)."""
    values = dict(data)
    kind = values.pop("op", None)
    if kind == "Dropped":
        values["reason_code"] = DropReason(values["reason_code"])
        return Dropped(**values)
    if kind not in _OPERATION_TYPES:
        raise ValueError(f"unknown operation {kind!r}")
    return _OPERATION_TYPES[kind](**values)


@dataclass(frozen=True)
class Plan:
    """What one event calls for: operations in order, dropped parts, warnings."""

    operations: tuple[Operation, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def is_dropped(self) -> bool:
        """Nothing at all is sent for the event."""
        return not self.operations

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, e.g. to explain a conformance failure."""
        return {
            "operations": [operation_to_dict(operation) for operation in self.operations],
            "dropped": [operation_to_dict(dropped) for dropped in self.dropped],
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


@dataclass
class _Planner:
    event: Mapping[str, Any]
    settings: Settings
    message_id: str | None
    operations: list[Operation] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    malformed: set[str] = field(default_factory=set)

    def drop(self, code: DropReason, reason: str) -> None:
        self.dropped.append(Dropped(code, reason, self.message_id))

    def result(self) -> Plan:
        return Plan(tuple(self.operations), tuple(self.dropped), tuple(self.warnings))

    def mapping(self, name: str, container: Mapping[str, Any] | None = None, *, label: str = "") -> Mapping[str, Any]:
        """``container[name]`` when it is an object; anything else counts as empty (warned once)."""
        value = (self.event if container is None else container).get(name)
        if type(value) is dict:  # what JSON gives: no ABC check needed
            return value
        if value is None or isinstance(value, Mapping):
            return value or {}
        label = label or name
        if label not in self.malformed:
            self.malformed.add(label)
            self.warnings.append(f"{label} is not an object (got a {type(value).__name__}); treated as empty")
        return {}

    def event_row(self, payload_name: str, key: str | None) -> dict[str, Scalar]:
        """Flattened traits/properties, ``Contact Key`` from the event's identity, context attributes.

        ``Contact Key`` always comes from userId or email (ID-2, TR-2): a trait or property that
        would also become that column is left out. Context attributes (CTX-1, CTX-2) do not
        replace a column the traits or properties already give.
        """
        row = flatten_payload(self.mapping(payload_name), self.warnings)
        # casefold works a character at a time: no column can fold to "contact key" unless all of them,
        # folded together, hold it
        if _CONTACT_KEY_FOLDED in "\n".join(row).casefold():
            for column in [column for column in row if column.casefold() == _CONTACT_KEY_FOLDED]:
                del row[column]
                self.warnings.append(
                    f"{payload_name} column {column!r} left out: the Contact Key comes from userId or email "
                    "(ID-2, TR-2)"
                )
        if key is not None:
            row = {CONTACT_KEY: key, **row}
        context = self.event.get("context")
        if context is None:  # no context at all: no attributes, nothing to warn about
            return row
        attributes = context_attributes(self.mapping("context"))
        taken = {column.casefold() for column in row} if attributes else set()
        for column, value in attributes.items():
            if column.casefold() in taken:
                self.warnings.append(f"context attribute {column!r} not used: {payload_name} already give it")
                continue
            row[column] = value
        return row

    # -- identify --------------------------------------------------------------------------------

    def identify(self) -> None:
        key = contact_key(self.event)
        if key is None:
            self.drop(DropReason.NO_IDENTIFIER, "identify has neither a userId nor an email trait (ID-1)")
            return
        if self.settings.creates_contacts:
            self.operations.append(UpsertContact(key, self.message_id))
        if self.settings.identify_de_key is not None:
            # the key goes into the row's keys; no context attribute is named Contact Key (CTX-1), so
            # the row's values are the same without it
            row = self.event_row("traits", None)
            self.operations.append(self.upsert_row(self.settings.identify_de_key, {CONTACT_KEY: key}, row))
        if not self.operations:
            self.drop(
                DropReason.IDENTIFY_NOT_CONFIGURED,
                "identify has nowhere to go: no identify_de_key is set (ID-6) and contacts are not "
                + ("created while batching is on (BAT-2)" if self.settings.batching.enabled else "created (ID-5)"),
            )

    # -- track -----------------------------------------------------------------------------------

    def track(self) -> None:
        name = self.event.get("event")
        if not isinstance(name, str) or not name:
            self.drop(DropReason.NOT_A_CONVERSION_EVENT, "track has no event name, so it matches no setting (TR-1)")
            return
        conversion = self.settings.conversion_for(name)
        definition_key = self.settings.api_events.get(name)
        if conversion is None and definition_key is None:
            self.drop(
                DropReason.NOT_A_CONVERSION_EVENT,
                f"{name!r} is not a configured conversion event (TR-1) or API event (API-1)",
            )
            return
        key = contact_key(self.event)
        if key is None:
            self.drop(
                DropReason.NO_IDENTIFIER,
                f"{name!r} has neither a userId nor context.traits.email, so it belongs to no contact "
                "(TR-2, ID-2); properties.email is never used, it may name someone else",
            )
            return
        row = self.event_row("properties", key)
        if conversion is not None:
            self.conversion_row(conversion, row)
        if definition_key is not None:
            self.api_event(name, definition_key, key, row)

    def conversion_row(self, conversion: ConversionEvent, row: dict[str, Scalar]) -> None:
        if conversion.uuid_primary_key:
            if self.message_id is None:
                self.drop(
                    DropReason.MISSING_PRIMARY_KEY,
                    f"{conversion.event!r} keys rows by {UUID_COLUMN!r} = the event's messageId (TR-5), "
                    "and the event has no messageId",
                )
                return
            values = {column: value for column, value in row.items() if column.casefold() != "uuid"}
            if len(values) != len(row):
                self.warnings.append(
                    f"properties column {UUID_COLUMN!r} left out: with uuid_primary_key it holds the messageId (TR-5)"
                )
            self.operations.append(self.upsert_row(conversion.de_key, {UUID_COLUMN: self.message_id}, values))
            return
        columns = {column.casefold(): column for column in row}
        keys: dict[str, Scalar] = {}
        missing: list[str] = []
        for key_column in conversion.primary_keys:
            value = row.get(columns.get(key_column.casefold(), ""))
            if value is None or (isinstance(value, str) and not value.strip()):
                missing.append(key_column)
            else:
                keys[key_column] = value
        if missing:
            self.drop(
                DropReason.MISSING_PRIMARY_KEY,
                f"{conversion.event!r} has no value for primary key column"
                f"{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} of data extension "
                f"{conversion.de_key!r} (TR-3)" + "".join(self.missing_key_hint(column, columns) for column in missing),
            )
            return
        key_columns = {column.casefold() for column in keys}
        values = {column: value for column, value in row.items() if column.casefold() not in key_columns}
        self.operations.append(self.upsert_row(conversion.de_key, keys, values))

    def upsert_row(self, de_key: str, keys: dict[str, Scalar], values: dict[str, Scalar]) -> UpsertRow:
        """A row whose ``values`` are never empty: SFMC refuses that ("At least one existing field is
        required in the values property") and, in a rowset, every row after it. A row with nothing
        but its keys (a trait-less identify, a key-only DE) repeats the keys there."""
        if not values:
            values = dict(keys)
            self.warnings.append(
                f"the row for data extension {de_key!r} has only its key columns; they are repeated in values, "
                "which SFMC requires to name at least one existing field"
            )
        return UpsertRow(de_key, keys, values, self.message_id)

    @staticmethod
    def missing_key_hint(column: str, sent_columns: Mapping[str, str]) -> str:
        if column.casefold() == CONTACT_KEY.casefold():
            return "; the event has neither a userId nor an email (TR-2)"
        sent_as = sent_columns.get(title_case(column).casefold())
        if sent_as is not None and sent_as.casefold() != column.casefold():
            return f"; the event sends it as {sent_as!r} (Title Case, FMT-1, FMT-5): name the column that"
        return ""

    def api_event(self, name: str, definition_key: str, key: str | None, row: dict[str, Scalar]) -> None:
        if self.settings.batching.enabled:
            self.drop(
                DropReason.API_EVENTS_DISABLED,
                f"API event {definition_key!r} for {name!r} is not fired: API events are not used while "
                "batching is on (BAT-2)",
            )
        elif key is None:
            self.drop(
                DropReason.NO_IDENTIFIER,
                f"API event {definition_key!r} for {name!r} needs a Contact Key, and the event has neither "
                "a userId nor an email (API-1, ID-2)",
            )
        else:
            self.operations.append(FireApiEvent(definition_key, key, dict(row), self.message_id))

    # -- Personas --------------------------------------------------------------------------------

    def personas(self, computation: Mapping[str, Any]) -> None:
        computation_class = computation["computation_class"]
        computation_key = computation.get("computation_key")
        if not isinstance(computation_key, str) or not title_case(computation_key):
            self.drop(
                DropReason.PERSONAS_VALUE_MISSING,
                f"context.personas names no usable computation_key (got {computation_key!r}), so there is no "
                "column to write (PER-3, PER-5)",
            )
            return
        column = title_case(computation_key)
        if column.casefold() == CONTACT_KEY.casefold():
            self.drop(
                DropReason.PERSONAS_VALUE_UNSUPPORTED,
                f"{computation_class} {computation_key!r} would become column {column!r}, the data "
                "extension's key (PER-2); rename the audience or trait",
            )
            return
        key = contact_key(self.event)
        if key is None:
            self.drop(
                DropReason.NO_IDENTIFIER,
                f"{computation_class} {computation_key!r}: the event has neither a userId nor an email (ID-1)",
            )
            return
        found = self.personas_value(computation_class, computation_key)
        if found is None:
            return
        value, column_type = found
        de_key = self.settings.personas_de_key or DEFAULT_PERSONAS_DE_KEY
        if column_type is not None:
            self.operations.append(
                EnsurePersonasDataExtension(
                    de_key, self.settings.personas_de_key is None, column, column_type, self.message_id
                )
            )
        self.operations.append(UpsertRow(de_key, {CONTACT_KEY: key}, {column: value}, self.message_id))

    def personas_value(self, computation_class: str, computation_key: str) -> tuple[Scalar, str | None] | None:
        """The value to write and its column type, or None after recording why there is none."""
        is_track = self.event.get("type") == "track"
        source_name = "properties" if is_track else "traits"
        source = self.mapping(source_name)
        event_name = self.event.get("event")
        if computation_class == AUDIENCE:
            if is_track and event_name in (AUDIENCE_ENTERED, AUDIENCE_EXITED):
                member = event_name == AUDIENCE_ENTERED  # PER-3 entered → true, PER-4 exited → false
                given = source.get(computation_key)
                if isinstance(given, bool) and given is not member:
                    self.warnings.append(
                        f"{event_name!r} carries {source_name}.{computation_key} = {given}; the event name "
                        f"decides, so {title_case(computation_key)!r} is set to {member} (PER-3, PER-4)"
                    )
                return member, "Boolean"
            if computation_key not in source:
                self.drop(
                    DropReason.PERSONAS_VALUE_MISSING,
                    f"audience {computation_key!r}: {source_name} do not say whether the user is a member (PER-3)",
                )
                return None
            given = source[computation_key]
            if not isinstance(given, bool):
                self.drop(
                    DropReason.PERSONAS_VALUE_UNSUPPORTED,
                    f"audience {computation_key!r}: membership must be true or false, got {given!r} (PER-3, PER-4)",
                )
                return None
            return given, "Boolean"
        if computation_key not in source:
            self.drop(
                DropReason.PERSONAS_VALUE_MISSING,
                f"computed trait {computation_key!r} has no value in {source_name} (PER-5)",
            )
            return None
        try:
            value = normalize_scalar(source[computation_key], self.warnings, label=f"{source_name}.{computation_key}")
        except UnsupportedValue as error:
            self.drop(
                DropReason.PERSONAS_VALUE_UNSUPPORTED,
                f"computed trait {computation_key!r}: {error}; a column holds one value (PER-5)",
            )
            return None
        return value, column_type_for(value)


def _message_id(event: Mapping[str, Any]) -> str | None:
    value = event.get("messageId")
    if type(value) is str:
        return value if value.strip() else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if text.strip() else None


def _personas_computation(planner: _Planner) -> Mapping[str, Any] | None:
    """``context.personas`` when it is an audience or computed trait; other classes plan as usual."""
    personas = planner.mapping("personas", planner.mapping("context"), label="context.personas")
    if not personas:
        return None
    if personas.get("computation_class") in COMPUTATION_CLASSES:
        return personas
    planner.warnings.append(
        f"context.personas.computation_class {personas.get('computation_class')!r} is not an audience or "
        "computed trait; planned as an ordinary event"
    )
    return None


def plan(event: Mapping[str, Any], settings: Settings) -> Plan:
    """The operations one Segment event calls for under ``settings`` (see the module docstring)."""
    if not isinstance(event, Mapping):
        return Plan(
            dropped=(
                Dropped(
                    DropReason.MALFORMED_EVENT,
                    f"an event must be an object, not a {type(event).__name__}",
                    None,
                ),
            )
        )
    planner = _Planner(event, settings, _message_id(event))
    event_type = event.get("type")
    computation = (
        _personas_computation(planner)
        if event_type in ("identify", "track") and event.get("context") is not None
        else None
    )
    if computation is not None:
        planner.personas(computation)
    elif event_type == "identify":
        planner.identify()
    elif event_type == "track":
        planner.track()
    else:
        planner.drop(
            DropReason.UNSUPPORTED_TYPE,
            f"{event_type!r} calls are not sent to SFMC; only identify and track are (ID-4, TR-1)",
        )
    return planner.result()
