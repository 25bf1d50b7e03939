"""Data Extension definitions: building one from a client's or a scenario's description.

``build_data_extension`` is the single place that decides whether a definition is acceptable,
used by the REST ``customobjects`` API, scenario files and the admin API alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .fields import DEFAULT_DECIMAL, DEFAULT_LENGTH, MAX_LENGTH, MAX_PRECISION, FieldSpec, canonical_type
from .problems import Problems
from .titlecase import title_case_problem

FORBIDDEN_NAME_CHARS = set('"[]\\') | {chr(c) for c in range(32)}


ROOT_FOLDER_ID = 1000  # the "Data Extensions" folder a DE created without one sits in (as the SOAP API reports)
MAX_FIELD_NAME = 128  # inferred: SFMC's UI refuses longer column names


class DefinitionError(Problems):
    """A Data Extension definition SFMC would refuse."""


@dataclass(frozen=True)
class DataExtension:
    id: str
    key: str
    name: str
    fields: tuple[FieldSpec, ...]
    is_sendable: bool = False
    description: str = ""
    category_id: int = 0
    created_at: float = 0.0
    _by_lower: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)
    _by_given: dict[str, FieldSpec | None] = field(
        default_factory=dict, compare=False, repr=False
    )  # spellings seen -> column or None
    # what is compiled from this schema (the row validators of domain/rows.py), kept with it: a DE whose
    # schema changes becomes a new object (with_fields), so nothing here outlives the schema it was built from
    compiled: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_lower.update({f.name.lower(): f for f in self.fields})

    def column(self, name: str) -> FieldSpec | None:
        """Column lookup, case-insensitive as in SFMC."""
        # the bulk path asks ~10 times per row for the same few spellings: remember them (bounded)
        try:
            return self._by_given[name]
        except (KeyError, TypeError):
            found = self._by_lower.get(str(name).lower())
            if isinstance(name, str) and len(self._by_given) < 4096:
                self._by_given[name] = found
            return found

    @cached_property
    def primary_keys(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.is_primary_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "isSendable": self.is_sendable,
            "categoryId": self.category_id or ROOT_FOLDER_ID,
            "fieldCount": len(self.fields),
            "fields": [f.to_dict() for f in self.fields],
        }

    def with_fields(self, fields: list[FieldSpec]) -> DataExtension:
        return DataExtension(
            self.id,
            self.key,
            self.name,
            tuple(fields),
            self.is_sendable,
            self.description,
            self.category_id,
            self.created_at,
        )


def _pick(d: Mapping[str, object], *names: str, default: object = None) -> object:
    """First present key among ``names`` (SFMC's API and scenario files spell some differently)."""
    for name in names:
        if name in d and d[name] is not None:
            return d[name]
    return default


def _whole(value: object) -> int | None:
    """``int()`` of a length, precision or scale as given; TypeError for a value that is no number."""
    if value is None:
        return None
    if not isinstance(value, int | float | str):
        raise TypeError(f"not a number: {value!r}")
    return int(value)


def _as_bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "y")


def build_field(raw: object, ordinal: int, problems: list[str], require_title_case: bool) -> FieldSpec | None:
    if not isinstance(raw, dict):
        problems.append(f"fields[{ordinal}]: must be an object with at least 'name' and 'type'")
        return None
    name = raw.get("name")
    where = f"fields[{ordinal}]"
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: 'name' is required")
        return None
    if len(name) > MAX_FIELD_NAME:
        problems.append(f"{where}: a field name has at most {MAX_FIELD_NAME} characters (got {len(name)})")
        return None
    where = f"field '{name}'"
    if FORBIDDEN_NAME_CHARS & set(name):
        problems.append(f"{where}: names may not contain quotes, brackets, backslashes or control characters")
    if require_title_case and (problem := title_case_problem(name)):
        problems.append(problem)
    kind = canonical_type(_pick(raw, "type", "fieldType", default="Text"))
    if kind is None:
        problems.append(
            f"{where}: unknown type {raw.get('type')!r}; use one of Text, Number, Decimal, Date, "
            "Boolean, EmailAddress, Phone, Locale"
        )
        return None
    length = _pick(raw, "length", "maxLength", "precision")
    scale = _pick(raw, "scale")
    try:
        length = _whole(length)
        scale = _whole(scale)
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{where}: length, precision and scale must be whole numbers")
        return None
    if kind in MAX_LENGTH:
        length = length or DEFAULT_LENGTH[kind]
        if not 1 <= length <= MAX_LENGTH[kind]:
            problems.append(f"{where}: a {kind} length must be between 1 and {MAX_LENGTH[kind]} (got {length})")
    elif kind == "Decimal":
        length = length or DEFAULT_DECIMAL[0]
        scale = DEFAULT_DECIMAL[1] if scale is None else scale
        if not 1 <= length <= MAX_PRECISION or not 0 <= scale <= length:
            problems.append(
                f"{where}: Decimal precision must be 1..{MAX_PRECISION} and scale 0..precision (got {length}, {scale})"
            )
    else:
        length = None
    if kind != "Decimal":
        scale = None
    primary = _as_bool(_pick(raw, "isPrimaryKey", "primary_key", "primaryKey"), False)
    nullable = _as_bool(_pick(raw, "isNullable", "nullable"), not primary)
    if primary and nullable and _pick(raw, "isNullable", "nullable") is not None:
        problems.append(f"{where}: a primary key field can never be nullable")
    default = _pick(raw, "defaultValue", "default")
    return FieldSpec(
        name=name,
        type=kind,
        length=length,
        scale=scale,
        is_primary_key=primary,
        is_nullable=False if primary else nullable,
        default=None if default is None else str(default),
        ordinal=ordinal,
    )


def _category(raw: Mapping[str, object], problems: list[str]) -> int:
    value = _pick(raw, "categoryId", "category_id", default=0)
    if value in (None, "", 0):
        return 0
    if isinstance(value, bool) or not (
        (isinstance(value, int) and 0 <= value < 2**31)
        or (isinstance(value, str) and value.isdigit() and len(value) < 10)
    ):
        problems.append(f"'categoryId' must be a folder id, a whole number 0..{2**31 - 1}")
        return 0
    return int(value)


def build_data_extension(
    raw: object, *, require_title_case: bool = True, now: float = 0.0, client_id: bool = True
) -> DataExtension:
    """A validated DataExtension from its JSON/YAML description; raises DefinitionError.

    ``client_id=False`` (the REST API): the id is assigned here whatever the body says, as SFMC does
    (sfmc-devtools marks a DE's ObjectID ``isCreateable: false``). Scenario files may choose an id.
    """
    if not isinstance(raw, dict):
        raise DefinitionError(["a data extension must be a JSON object with 'name' and 'fields'"])
    problems: list[str] = []
    name = _pick(raw, "name")
    if not isinstance(name, str) or not name.strip():
        problems.append("'name' is required")
    key = _pick(raw, "key", "customerKey", "externalKey")
    if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > 200):
        problems.append("'key' must be a non-empty string of at most 200 characters")
    raw_fields = _pick(raw, "fields", default=[])
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append("'fields' must be a non-empty list")
        raw_fields = []
    fields = [f for i, rf in enumerate(raw_fields) if (f := build_field(rf, i, problems, require_title_case))]
    seen: dict[str, str] = {}
    for f in fields:
        if f.name.lower() in seen:
            problems.append(f"field '{f.name}' duplicates '{seen[f.name.lower()]}' (names are case-insensitive)")
        seen[f.name.lower()] = f.name
    category_id = _category(raw, problems)
    given_id = _pick(raw, "id") if client_id else None
    if given_id is not None and not (isinstance(given_id, str) and given_id.strip() and len(given_id) <= 100):
        problems.append("'id' must be a non-empty string of at most 100 characters (a GUID)")
    if problems or not isinstance(name, str) or not (key is None or isinstance(key, str)):
        raise DefinitionError(problems)
    de_id = str(given_id or uuid.uuid4()).lower()
    return DataExtension(
        id=de_id,
        key=key if key is not None else de_id.upper(),
        name=name,
        fields=tuple(fields),
        is_sendable=_as_bool(_pick(raw, "isSendable", "sendable"), False),
        description=str(_pick(raw, "description", default="")),
        category_id=category_id,
        created_at=now,
    )


# What SFMC's REST create (``POST /data/v1/customobjects``) insists on beyond a valid definition: a
# folder and complete field objects, every flag spelled out (probe-notes; segmentio/action-destinations
# sends exactly these). Scenario files and the admin API stay lenient.
REST_FIELD_PROPERTIES = (
    "name",
    "type",
    "isNullable",
    "isPrimaryKey",
    "ordinal",
    "isTemplateField",
    "isHidden",
    "isReadOnly",
    "isInheritable",
    "isOverridable",
    "mustOverride",
)


def rest_create_problems(raw: object) -> list[str]:
    """Why SFMC's REST create would refuse ``raw`` before looking at its fields' values."""
    if not isinstance(raw, dict):
        return []
    problems = []
    category = raw.get("categoryId")
    if isinstance(category, bool) or not isinstance(category, int | str) or not str(category).strip().isdigit():
        problems.append("categoryId is required: the ID of the folder the data extension goes in")
    elif int(category) <= 0:
        problems.append(f"categoryId {category} is not a folder: use the ID of an existing data extension folder")
    for i, given in enumerate(raw.get("fields") or []):
        if isinstance(given, dict):
            missing = [p for p in REST_FIELD_PROPERTIES if p not in given]
            if missing:
                problems.append(f"fields[{i}] ({given.get('name', '?')}) lacks {', '.join(missing)}")
    return problems


def summary(de: DataExtension, row_count: int) -> dict[str, Any]:
    """One item of ``GET /data/v1/customobjects``: the definition without its fields, with ``rowCount``."""
    out = {k: v for k, v in de.to_dict().items() if k != "fields"}
    out["rowCount"] = row_count
    return out
