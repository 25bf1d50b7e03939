"""Rules for syncing Personas audiences and computed traits to a data extension (PER-1..PER-5).

Each audience or computed trait is one column of the Personas data extension, keyed by
``Contact Key``: an audience column holds true/false membership (PER-3, PER-4), a computed trait
column the trait's value (PER-5). ``requirements_problems`` checks an existing data extension
against PER-2 before the sync writes to it; ``new_data_extension_fields`` and ``column_field``
describe the fields to create (PER-1, PER-2: missing columns are created).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from defusedxml import ElementTree

from connector.transform import Scalar

AUDIENCE = "audience"
COMPUTED_TRAIT = "computed_trait"
COMPUTATION_CLASSES = (AUDIENCE, COMPUTED_TRAIT)
"""``context.personas.computation_class`` values the sync handles."""

AUDIENCE_ENTERED = "Audience Entered"
AUDIENCE_EXITED = "Audience Exited"

CONTACT_KEY = "Contact Key"
DEFAULT_PERSONAS_DE_KEY = "segment-personas"
"""External Key of the data extension the sync creates when ``personas_de_key`` is blank (PER-1)."""
DEFAULT_PERSONAS_DE_NAME = "Segment Personas"

NUMBER_RANGE = (-(2**31), 2**31 - 1)
"""SFMC's Number type is a 32-bit integer; whole numbers outside it need a Decimal column."""

COMPATIBLE_COLUMN_TYPES: dict[str, tuple[str, ...]] = {
    "Boolean": ("Boolean",),
    "Number": ("Number", "Decimal"),
    "Decimal": ("Decimal",),
    "Text": ("Text",),
}
"""Column type the sync needs → existing SFMC field types that hold such values (PER-2)."""

CONTACT_KEY_LENGTH = 254
TEXT_COLUMN_LENGTH = 4000  # SFMC's maximum: a computed trait's text has no known bound
DECIMAL_PRECISION, DECIMAL_SCALE = 29, 8

_SFMC_TYPES = ("Text", "Number", "Decimal", "Date", "Boolean", "EmailAddress", "Phone", "Locale")
_VALUE_KINDS = {
    "Boolean": "true/false values",
    "Number": "whole numbers",
    "Decimal": "decimal numbers",
    "Text": "text values",
}


def column_type_for(value: Scalar) -> str | None:
    """The column type a computed trait value needs (PER-5); None for null, which fits any column."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Number" if NUMBER_RANGE[0] <= value <= NUMBER_RANGE[1] else "Decimal"
    if isinstance(value, float):
        return "Decimal"
    return "Text"


def _field_type(field: Mapping[str, Any]) -> str:
    declared = str(field.get("type", ""))
    for known in _SFMC_TYPES:
        if known.lower() == declared.lower():
            return known
    return declared


def requirements_problems(
    fields: Iterable[Mapping[str, Any]],
    column_name: str | None = None,
    column_type: str | None = None,
) -> list[str]:
    """What keeps an existing data extension from receiving the Personas sync (PER-2); [] if nothing.

    ``fields`` are the field dicts SFMC's ``GET /data/v1/customobjects/{id}/fields`` returns
    (``name``, ``type``, ``isPrimaryKey``, ``isNullable``). ``column_name`` and ``column_type``
    name the column the sync is about to write; when that column exists its type must be one of
    ``COMPATIBLE_COLUMN_TYPES[column_type]``. A missing column is not a problem: it is created.
    Names compare case-insensitively, as SFMC compares them.
    """
    if column_type is not None and column_type not in COMPATIBLE_COLUMN_TYPES:
        raise ValueError(f"column_type must be one of {', '.join(COMPATIBLE_COLUMN_TYPES)}, not {column_type!r}")
    fields = list(fields)
    problems: list[str] = []
    by_name: dict[str, Mapping[str, Any]] = {}
    for field in fields:
        by_name.setdefault(str(field.get("name", "")).casefold(), field)

    contact = by_name.get(CONTACT_KEY.casefold())
    if contact is None:
        problems.append(
            "there is no 'Contact Key' field; the sync writes one row per contact keyed by it (PER-2): add a "
            "Text field 'Contact Key' as the primary key, or leave personas_de_key blank to let the sync "
            "create a data extension"
        )
    else:
        if _field_type(contact) != "Text":
            problems.append(
                f"'Contact Key' has type {_field_type(contact)}; it must be Text (PER-2): recreate it as Text"
            )
        if not contact.get("isPrimaryKey", False):
            problems.append(
                "'Contact Key' is not the primary key; the sync upserts rows by it (PER-2): make it the primary key"
            )

    for field in fields:
        name = str(field.get("name", ""))
        if field is contact:
            continue
        if field.get("isPrimaryKey", False):
            problems.append(
                f"{name!r} is a primary key; the only primary key allowed is 'Contact Key' (PER-2): take "
                f"{name!r} out of the primary key, or sync to another data extension"
            )
        elif not field.get("isNullable", True):
            problems.append(
                f"{name!r} is required (not nullable); every field but 'Contact Key' must be nullable "
                f"because a sync writes only its own column (PER-2): make {name!r} nullable"
            )

    if column_name is not None and column_type is not None:
        existing = by_name.get(column_name.casefold())
        if existing is not None and existing is not contact:
            actual = _field_type(existing)
            accepted = COMPATIBLE_COLUMN_TYPES[column_type]
            if actual not in accepted:
                problems.append(
                    f"{existing.get('name')!r} has type {actual} but the sync writes "
                    f"{_VALUE_KINDS[column_type]} to it; it must be {' or '.join(accepted)} (PER-2, DE-1): "
                    f"recreate the column as {accepted[0]}, or sync to another data extension"
                )
    return problems


# SFMC's REST create wants complete field objects, every flag given (docs/fidelity.md, DE-2)
FIELD_FLAGS = {
    "isTemplateField": False,
    "isHidden": False,
    "isReadOnly": False,
    "isInheritable": False,
    "isOverridable": False,
    "mustOverride": False,
}


def column_field(column_name: str, column_type: str) -> dict[str, Any]:
    """The SFMC field definition for a missing audience or computed-trait column: always nullable."""
    if column_type not in COMPATIBLE_COLUMN_TYPES:
        raise ValueError(f"column_type must be one of {', '.join(COMPATIBLE_COLUMN_TYPES)}, not {column_type!r}")
    field: dict[str, Any] = {
        "name": column_name,
        "type": column_type,
        "isPrimaryKey": False,
        "isNullable": True,
        **FIELD_FLAGS,
    }
    if column_type == "Text":
        field["length"] = TEXT_COLUMN_LENGTH
    elif column_type == "Decimal":
        field["length"], field["scale"] = DECIMAL_PRECISION, DECIMAL_SCALE
    return field


def new_data_extension_fields(column_name: str, column_type: str) -> list[dict[str, Any]]:
    """Fields of a data extension the sync creates (PER-1): ``Contact Key`` plus the first column."""
    contact_key_field = {
        "name": CONTACT_KEY,
        "type": "Text",
        "length": CONTACT_KEY_LENGTH,
        "isPrimaryKey": True,
        "isNullable": False,
        **FIELD_FLAGS,
    }
    fields = [contact_key_field, column_field(column_name, column_type)]
    for ordinal, field in enumerate(fields):
        field["ordinal"] = ordinal
    return fields


PARTNER_API = "http://exacttarget.com/wsdl/partnerAPI"
ROOT_FOLDER_RETRIEVE = (
    f'<RetrieveRequestMsg xmlns="{PARTNER_API}"><RetrieveRequest><ObjectType>DataFolder</ObjectType>'
    "<Properties>ID</Properties><Properties>ContentType</Properties><Properties>ParentFolder.ID</Properties>"
    '<Filter xsi:type="SimpleFilterPart"><Property>ContentType</Property><SimpleOperator>equals</SimpleOperator>'
    "<Value>dataextension</Value></Filter></RetrieveRequest></RetrieveRequestMsg>"
)


def root_folder_id(soap_answer: bytes) -> int | None:
    """The ID of the top "Data Extensions" folder (parent 0) in a SOAP DataFolder Retrieve answer."""
    try:
        root = ElementTree.fromstring(soap_answer)
    except (ElementTree.ParseError, ValueError):
        return None
    for result in root.iter(f"{{{PARTNER_API}}}Results"):
        parent = result.findtext(f"{{{PARTNER_API}}}ParentFolder/{{{PARTNER_API}}}ID")
        folder = result.findtext(f"{{{PARTNER_API}}}ID")
        if parent == "0" and folder and folder.isdigit():
            return int(folder)
    return None
