"""Direct tests of the emulator's pure rules (no Flask, no store), beside the HTTP tests that use them."""

from __future__ import annotations

import pytest

from emulator.clock import Clock
from emulator.domain.data_extensions import DefinitionError, build_data_extension
from emulator.domain.fields import FieldSpec, ValueProblem, canonical_type, check_value, is_empty
from emulator.domain.filters import BoolOp, Compare, FilterError, columns_in, parse_filter
from emulator.domain.rows import RowInput, plan_rows
from emulator.domain.throttle import Throttle, TokenBucket, retry_after_header

FIELDS = [
    {"name": "Contact Key", "type": "Text", "length": 50, "isPrimaryKey": True},
    {"name": "Email", "type": "EmailAddress"},
    {"name": "Age", "type": "Number"},
    {"name": "Score", "type": "Decimal", "precision": 5, "scale": 2},
    {"name": "Opted In", "type": "Boolean"},
]


def people():
    return build_data_extension({"name": "People", "key": "people", "fields": FIELDS})


def field(name: str):
    return people().column(name)


# -- fields ------------------------------------------------------------------------------------------


def test_field_types_are_read_in_any_case_and_unknown_ones_refused():
    assert canonical_type("emailaddress") == "EmailAddress"
    assert canonical_type("TEXT") == "Text"
    assert canonical_type("Blob") is None


def test_values_are_checked_and_stored_in_their_column_form():
    assert check_value(field("Age"), 42) == "42"
    assert check_value(field("Score"), "3.14159") == "3.14"
    assert check_value(field("Email"), "ann@example.com") == "ann@example.com"
    for column, bad in (("Age", "old"), ("Email", "not-an-address"), ("Score", "1234.5"), ("Opted In", "maybe")):
        with pytest.raises(ValueProblem):
            check_value(field(column), bad)
    assert is_empty(None) and is_empty("  ") and not is_empty(0)


def test_a_text_value_longer_than_its_column_is_refused():
    short = FieldSpec(name="Code", type="Text", length=3)
    assert check_value(short, "abc") == "abc"
    with pytest.raises(ValueProblem):
        check_value(short, "abcd")


# -- Data Extension definitions ----------------------------------------------------------------------


def test_a_definition_with_title_case_fields_builds_and_others_list_every_problem():
    de = people()
    assert [f.name for f in de.fields] == [f["name"] for f in FIELDS]
    assert [f.name for f in de.fields if f.is_primary_key] == ["Contact Key"]
    bad = {"name": "X", "key": "x", "fields": [{"name": "email", "type": "Text"}, {"name": "Age", "type": "Blob"}]}
    with pytest.raises(DefinitionError) as refused:
        build_data_extension(bad)
    assert len(refused.value.problems) >= 2
    assert build_data_extension(bad | {"fields": bad["fields"][:1]}, require_title_case=False).fields[0].name == "email"


# -- rows --------------------------------------------------------------------------------------------


def test_a_rowset_saves_rows_before_the_first_bad_one_and_reports_ignored_keys():
    de = people()
    rows = [
        RowInput({"Contact Key": "a"}, {"Age": 1, "Unknown": "x"}),
        RowInput({"Contact Key": "b"}, {"Age": "old"}),
        RowInput({"Contact Key": "c"}, {"Age": 3}),
    ]
    plan = plan_rows(de, rows, lambda keys: {})
    assert [o.index for o in plan.saved] == [0]
    assert [o.index for o in plan.failed] == [1, 2]
    assert plan.ignored_keys == ["Unknown"]
    assert len(plan.writes) == 1


def test_async_rows_stand_alone_and_insert_only_refuses_an_existing_key():
    de = people()
    rows = [RowInput({"Contact Key": "a"}, {"Age": "old"}), RowInput({"Contact Key": "b"}, {"Age": 2})]
    plan = plan_rows(de, rows, lambda keys: {}, stop_at_first_error=False)
    assert [o.index for o in plan.saved] == [1] and [o.index for o in plan.failed] == [0]
    stored = plan_rows(de, [rows[1]], lambda keys: {}).writes
    again = plan_rows(de, [rows[1]], lambda keys: {k: v for k, v in stored.items() if k in keys}, insert_only=True)
    assert again.failed and not again.saved


def test_strict_columns_refuse_what_is_otherwise_ignored():
    row = [RowInput({"Contact Key": "a"}, {"Unknown": "x", "Age": 1})]
    assert plan_rows(people(), row, lambda keys: {}).saved
    assert plan_rows(people(), row, lambda keys: {}, strict=True).failed


# -- $filter -----------------------------------------------------------------------------------------


def test_filters_parse_to_comparisons_joined_by_and_or():
    node = parse_filter("Email eq 'a@b.c' and (Age eq '3' or Age ne '4')")
    assert isinstance(node, BoolOp) and node.op == "and"
    assert node.left == Compare("Email", "eq", "a@b.c")
    assert sorted(columns_in(node)) == ["Age", "Age", "Email"]
    for bad in ("Email eq", "Email like 'x'", "(Age eq '1'", ""):
        with pytest.raises(FilterError):
            parse_filter(bad)


# -- throttle ----------------------------------------------------------------------------------------


def test_a_token_bucket_allows_its_burst_then_says_when_to_retry():
    bucket = TokenBucket(rate=2, burst=3, now=0.0)
    assert [bucket.take(0.0).allowed for _ in range(4)] == [True, True, True, False]
    refused = bucket.take(0.0)
    assert refused.retry_after == pytest.approx(0.5)
    assert bucket.take(0.5).allowed
    assert retry_after_header(0.01) == 1 and retry_after_header(2.2) == 3


def test_the_throttle_keeps_one_bucket_per_tenant_on_the_emulator_clock():
    clock = Clock()
    clock.freeze()
    throttle = Throttle(clock)
    assert [throttle.check("a", 1, 1).allowed for _ in range(2)] == [True, False]
    assert throttle.check("b", 1, 1).allowed  # another tenant's bucket is full
    clock.advance(1.0)
    assert throttle.check("a", 1, 1).allowed
    assert all(throttle.check("c", 0, 0).allowed for _ in range(50))  # rate 0: no limit
