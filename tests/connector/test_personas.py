"""Personas data extension requirements (PER-1, PER-2, PER-5, DE-1)."""

from __future__ import annotations

import pytest

from connector.personas import (
    COMPATIBLE_COLUMN_TYPES,
    FIELD_FLAGS,
    column_field,
    column_type_for,
    new_data_extension_fields,
    requirements_problems,
)

CONTACT_KEY_FIELD = {"name": "Contact Key", "type": "Text", "isPrimaryKey": True, "isNullable": False}


def field(name: str, type_: str = "Text", *, primary: bool = False, nullable: bool = True) -> dict:
    return {"name": name, "type": type_, "isPrimaryKey": primary, "isNullable": nullable, "length": 50}


def test_a_data_extension_that_meets_per_2_has_no_problems() -> None:
    fields = [CONTACT_KEY_FIELD, field("Email", "EmailAddress"), field("Active Users", "Boolean")]
    assert requirements_problems(fields) == []
    assert requirements_problems(fields, "Active Users", "Boolean") == []


def test_a_primary_key_other_than_contact_key_is_a_problem_per_2() -> None:
    fields = [CONTACT_KEY_FIELD, field("Order Id", primary=True, nullable=False)]
    assert requirements_problems(fields) == [
        "'Order Id' is a primary key; the only primary key allowed is 'Contact Key' (PER-2): take 'Order Id' "
        "out of the primary key, or sync to another data extension"
    ]


def test_contact_key_must_be_text_per_2() -> None:
    problems = requirements_problems([{**CONTACT_KEY_FIELD, "type": "EmailAddress"}])
    assert problems == ["'Contact Key' has type EmailAddress; it must be Text (PER-2): recreate it as Text"]


def test_contact_key_must_exist_and_be_the_key_the_sync_upserts_by_per_2() -> None:
    assert "there is no 'Contact Key' field" in requirements_problems([field("Email")])[0]
    problems = requirements_problems([{**CONTACT_KEY_FIELD, "isPrimaryKey": False, "isNullable": True}])
    assert problems == [
        "'Contact Key' is not the primary key; the sync upserts rows by it (PER-2): make it the primary key"
    ]


def test_other_fields_must_be_nullable_per_2() -> None:
    problems = requirements_problems([CONTACT_KEY_FIELD, field("Region", nullable=False)])
    assert len(problems) == 1
    assert problems[0].startswith("'Region' is required (not nullable); every field but 'Contact Key' must be")
    assert problems[0].endswith("make 'Region' nullable")


def test_an_existing_audience_column_must_be_boolean_per_2_de_1() -> None:
    fields = [CONTACT_KEY_FIELD, field("Active Users", "Text")]
    assert requirements_problems(fields, "Active Users", "Boolean") == [
        "'Active Users' has type Text but the sync writes true/false values to it; it must be Boolean "
        "(PER-2, DE-1): recreate the column as Boolean, or sync to another data extension"
    ]


@pytest.mark.parametrize(
    ("existing_type", "needed_type", "fits"),
    [
        ("Number", "Number", True),
        ("Decimal", "Number", True),
        ("Number", "Decimal", False),
        ("Decimal", "Decimal", True),
        ("Text", "Text", True),
        ("Date", "Text", False),
        ("Text", "Number", False),
        ("Boolean", "Boolean", True),
        ("Number", "Boolean", False),
    ],
)
def test_existing_computed_trait_columns_must_hold_the_values_per_5(
    existing_type: str, needed_type: str, fits: bool
) -> None:
    problems = requirements_problems(
        [CONTACT_KEY_FIELD, field("Lifetime Value", existing_type)], "Lifetime Value", needed_type
    )
    assert (problems == []) is fits


def test_a_missing_column_is_not_a_problem_because_it_is_created_per_2() -> None:
    assert requirements_problems([CONTACT_KEY_FIELD], "Active Users", "Boolean") == []


def test_names_and_types_compare_case_insensitively_as_in_sfmc() -> None:
    fields = [
        {"name": "contact key", "type": "text", "isPrimaryKey": True, "isNullable": False},
        {"name": "active users", "type": "boolean", "isPrimaryKey": False, "isNullable": True},
    ]
    assert requirements_problems(fields, "Active Users", "Boolean") == []


def test_every_problem_is_reported_at_once() -> None:
    fields = [
        {**CONTACT_KEY_FIELD, "type": "Number"},
        field("Order Id", primary=True, nullable=False),
        field("Region", nullable=False),
        field("Active Users", "Text"),
    ]
    assert len(requirements_problems(fields, "Active Users", "Boolean")) == 4


def test_an_unknown_column_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="column_type must be one of"):
        requirements_problems([CONTACT_KEY_FIELD], "X", "Date")
    with pytest.raises(ValueError, match="column_type must be one of"):
        column_field("X", "Integer")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "Boolean"),
        (False, "Boolean"),
        (0, "Number"),
        (2**31 - 1, "Number"),
        (-(2**31), "Number"),
        (2**31, "Decimal"),
        (19.99, "Decimal"),
        ("gold", "Text"),
        ("2020-05-30", "Text"),
        (None, None),
    ],
)
def test_computed_trait_column_type_follows_the_value_per_5(value: object, expected: str | None) -> None:
    assert column_type_for(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("column_type", sorted(COMPATIBLE_COLUMN_TYPES))
def test_a_data_extension_the_sync_creates_meets_its_own_requirements_per_1(column_type: str) -> None:
    fields = new_data_extension_fields("Active Users", column_type)
    assert [item["name"] for item in fields] == ["Contact Key", "Active Users"]
    assert [item["ordinal"] for item in fields] == [0, 1]
    assert fields[0]["isPrimaryKey"] is True and fields[0]["type"] == "Text"
    assert requirements_problems(fields, "Active Users", column_type) == []


def test_added_columns_are_nullable_and_sized() -> None:
    assert column_field("Tier", "Text") == {
        "name": "Tier",
        "type": "Text",
        "isPrimaryKey": False,
        "isNullable": True,
        "length": 4000,
        **FIELD_FLAGS,
    }
    decimal = column_field("Lifetime Value", "Decimal")
    assert (decimal["length"], decimal["scale"]) == (29, 8)
    assert "length" not in column_field("Active Users", "Boolean")
