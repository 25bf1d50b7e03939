"""The compiled row validator (whole-column checks) answers exactly what the per-row rules answer.

``RowValidator.prepare`` checks plain rows a column at a time and sends anything else row by row
through ``prepare_row``; these properties hold it to ``prepare_row`` on generated rows: same stored
values (in the same key order), same row keys, same problems and ignored names, for the default
date rules and for SFMC's date notations.
"""

from __future__ import annotations

import string
from unittest.mock import patch

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emulator.domain.async_rows import FLAT, row_inputs
from emulator.domain.column_checks import _all_emails, _all_iso_dates, column_check
from emulator.domain.data_extensions import build_data_extension
from emulator.domain.fields import _EMAIL, _ISO_DATE, CHECKS, SFMC_DATE_CHECKS, ValueProblem, is_empty
from emulator.domain.rows import (
    CreatedRows,
    FlatRows,
    RowInput,
    RowOutcome,
    RowValidator,
    plan_rows,
    prepare_row,
    row_validator,
)

FIELDS = [
    {"name": "Id", "type": "Text", "length": 12, "isPrimaryKey": True},
    {"name": "Region", "type": "Text", "length": 4, "isPrimaryKey": True},
    {"name": "Email", "type": "EmailAddress"},
    {"name": "Name", "type": "Text", "length": 6},
    {"name": "Age", "type": "Number"},
    {"name": "Score", "type": "Decimal", "precision": 6, "scale": 2},
    {"name": "Whole", "type": "Decimal", "precision": 4, "scale": 0},
    {"name": "At", "type": "Date"},
    {"name": "Opt In", "type": "Boolean"},
    {"name": "Phone", "type": "Phone"},
    {"name": "Locale", "type": "Locale"},
    {"name": "Required", "type": "Text", "isNullable": False},
]
DE = build_data_extension({"name": "People", "key": "people", "fields": FIELDS})

blank = st.sampled_from([None, "", "  ", "\t"])
odd = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.just({"a": 1}),
    st.just([1]),
)
padded = st.sampled_from(["", " ", "\n"])


def _text(alphabet: str, max_size: int):
    return st.text(alphabet, min_size=1, max_size=max_size)


PLAIN = {
    "Id": _text(string.ascii_letters + string.digits + 'ÄÉ"\\', 14),
    "Region": _text("EUSAeusa", 5),
    "Email": st.builds(lambda a, b, pad: f"{pad}{a}@{b}.io{pad}", _text("abc.", 6), _text("xyz", 4), padded),
    "Name": _text("Anna Bo", 7),
    "Age": st.one_of(st.integers(min_value=-(2**31) - 2, max_value=2**31 + 2), st.sampled_from(["42", " 7 "])),
    "Score": st.one_of(
        st.floats(min_value=-99999, max_value=99999, allow_nan=False).map(lambda x: round(x, 2)),
        st.sampled_from([0, -0.0, 1, 12.5, "3.1", "-0.5", "1234.567", "9999.99", "10000", "1e3", "0.125"]),
        st.integers(min_value=-20000, max_value=20000),
    ),
    "Whole": st.one_of(st.integers(min_value=-20000, max_value=20000), st.sampled_from(["12", "0", 3.0, "7."])),
    "At": st.sampled_from(
        [
            "2024-01-31",
            " 2024-02-29 ",
            "2023-02-29",
            "2024-05-30T13:30:00Z",
            "2024-05-30T13:30:00+02:00",
            "2024-05-30 13:30",
            "5/30/2024",
            "5/30/2024 1:30 PM",
            "13/40/2024",
            "20240101",
        ]
    ),
    "Opt In": st.one_of(st.booleans(), st.sampled_from(["true", "No", "1", 0, 1, "maybe"])),
    "Phone": st.sampled_from(["+1 555 0100", " 555-0101 ", "12", "(0)30 1234"]),
    "Locale": st.sampled_from(["en-US", "fr_FR", "de", " en-GB ", "english"]),
    "Required": _text("xyz", 5),
}


def value_of(name: str):
    """Mostly values a column takes as they are, sometimes an empty, refused or unusual one."""
    return st.one_of(PLAIN[name], PLAIN[name], PLAIN[name], blank, odd)


@st.composite
def batches(draw):
    """Rows naming mostly the same columns in the same order (one group), some spelled otherwise;
    flat rows (the async API's items) or ``{keys, values}`` rows (a rowset's)."""
    keyed = draw(st.booleans())
    key_names = draw(st.lists(st.sampled_from(["Id", "Region"]), min_size=1, max_size=2, unique=True)) if keyed else []
    others = [n for n in PLAIN if n not in key_names]
    names = draw(st.lists(st.sampled_from(others if keyed else list(PLAIN)), min_size=1, max_size=6, unique=True))
    plain = draw(st.booleans())  # every value plainly fine: the whole batch takes the column path

    def value(name: str):
        return draw(PLAIN[_canonical(name)] if plain else value_of(_canonical(name)))

    def respelled(spelled: list[str]) -> list[str]:
        if draw(st.integers(0, 9)) == 0:
            spelled = draw(st.permutations(spelled))
        if draw(st.integers(0, 9)) == 0:
            spelled = [n.upper() if draw(st.booleans()) else n for n in spelled]
        if draw(st.integers(0, 14)) == 0:
            spelled = [*spelled, draw(st.sampled_from(["Nope", "id", "ID", "Name", "Region"]))]
        return spelled

    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        values = {n: value(n) for n in respelled(list(names))}
        if keyed:
            rows.append(RowInput({n: value(n) for n in respelled(list(key_names))}, values, needs_value=True))
        elif draw(st.integers(0, 14)) == 0:
            rows.append(RowInput({"Id": "k"}, values, needs_value=True))
        else:
            rows.append(RowInput({}, values, needs_value=draw(st.booleans())))
    return rows


def _canonical(name: str) -> str:
    column = DE.column(name)
    return column.name if column is not None else "Name"


def _seen(outcomes) -> list[tuple]:
    # problems and ignored names as lists: the column path leaves them empty tuples, prepare_row's are lists
    return [(o.index, o.row_key, o.data, list(o.data or ()), list(o.problems), list(o.ignored)) for o in outcomes]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=batches(), strict=st.booleans(), sfmc_dates=st.booleans())
def test_compiled_validator_answers_as_prepare_row(rows, strict, sfmc_dates):
    checks = SFMC_DATE_CHECKS if sfmc_dates else CHECKS
    expected = [prepare_row(DE, row, i, strict, checks) for i, row in enumerate(rows)]
    assert _seen(row_validator(DE, checks).prepare(DE, rows, strict)) == _seen(expected)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), name=st.sampled_from(list(PLAIN)), sfmc_dates=st.booleans())
def test_a_column_check_agrees_with_the_value_check_or_declines(data, name, sfmc_dates):
    checks = SFMC_DATE_CHECKS if sfmc_dates else CHECKS
    field = DE.column(name)
    values = data.draw(st.lists(value_of(name), min_size=1, max_size=12))
    _agrees_or_declines(field, checks, values)


def _agrees_or_declines(field, checks, values) -> None:
    stored = column_check(field, checks)(values)
    if stored is None:
        return  # declined: these rows go row by row
    assert not any(is_empty(v) for v in values)
    expected = []
    for value in values:
        try:
            expected.append(checks[field.type](field, value))
        except ValueProblem:
            raise AssertionError(f"column check accepted {value!r}, which the value check refuses") from None
    assert stored == expected


@settings(max_examples=150, deadline=None)
@given(data=st.data(), name=st.sampled_from(list(PLAIN)), sfmc_dates=st.booleans())
def test_a_long_column_of_few_distinct_values_agrees_with_the_value_check_or_declines(data, name, sfmc_dates):
    # long columns that repeat their values are checked once per distinct value: an odd value
    # anywhere (also past the first rows, which decide whether the column repeats) still counts
    checks = SFMC_DATE_CHECKS if sfmc_dates else CHECKS
    pool = data.draw(st.lists(PLAIN[name], min_size=1, max_size=6))
    values = [pool[i % len(pool)] for i in range(data.draw(st.integers(500, 700)))]
    for odd_one in data.draw(st.lists(value_of(name), max_size=2)):
        values.insert(data.draw(st.integers(0, len(values))), odd_one)
    _agrees_or_declines(DE.column(name), checks, values)


def test_long_columns_of_few_distinct_values_keep_their_stored_forms():
    for name, pool in (
        ("Locale", ["en-US", " en-GB ", "fr-FR"]),
        ("Locale", ["en-US", "fr-FR"]),
        ("Email", ["a@b.io", " c@d.io"]),
        ("At", ["2024-01-31", " 2024-02-29 ", "2024-05-30T13:30:00Z"]),
    ):
        field = DE.column(name)
        values = [pool[i % len(pool)] for i in range(900)]
        assert column_check(field, CHECKS)(values) == [CHECKS[field.type](field, v) for v in values]
        values[800] = "not valid"  # past the first rows
        assert column_check(field, CHECKS)(values) is None


def test_plain_rows_take_the_column_path_and_a_refused_value_is_worded_as_before():
    rows = [RowInput({}, {"Id": f"u{i}", "Region": "EU", "Required": "x", "Score": 1.5}) for i in range(50)]
    validator = row_validator(DE)
    assert validator is row_validator(DE)  # compiled once per schema version
    values = [row.values for row in rows]
    assert validator._prepare_group(DE, ((), tuple(rows[0].values)), values, []) is not None
    plan = plan_rows(DE, rows, lambda keys: {}, stop_at_first_error=False)
    assert not plan.failed and plan.writes['["u7", "eu"]']["Score"] == "1.50"
    rows[7] = RowInput({}, {"Id": "u7", "Region": "EU", "Required": "x", "Score": "lots"})
    plan = plan_rows(DE, rows, lambda keys: {}, stop_at_first_error=False)
    assert [o.index for o in plan.failed] == [7]
    assert plan.failed[0].problems == ["Score: The value for column [Score] is not a valid decimal."]


def test_a_small_batch_takes_the_compiled_columns_and_leaves_the_rest_to_prepare_row():
    validator = row_validator(DE)
    plain = RowInput({"region": "eu", "Id": "u1"}, {"Email": " a@b.io ", "Required": "x", "At": "2024-01-31"}, True)
    fast = validator._prepare_plain(DE, plain, 3)
    assert fast is not None and _seen([fast]) == _seen([prepare_row(DE, plain, 3, False)])
    assert list(fast.data) == ["Email", "Required", "At", "Region", "Id"] and fast.data["Email"] == "a@b.io"
    for values in ({"Email": " "}, {"Email": "nope"}, {"Nope": "x"}, {"email": "a@b.io", "EMAIL": "c@d.io"}):
        row = RowInput({"Region": "eu", "Id": "u1"}, values, True)
        assert validator._prepare_plain(DE, row, 0) is None  # empty, refused, unknown, repeated: row by row
    assert validator._prepare_plain(DE, RowInput({"Id": "u1"}, {"Required": "x"}, True), 0) is None  # a key missing


def test_the_validator_is_kept_with_its_schema_and_a_changed_schema_gets_its_own():
    de = build_data_extension({"name": "Kept", "key": "kept", "fields": FIELDS})
    validator = row_validator(de)
    assert row_validator(de) is validator and row_validator(de, SFMC_DATE_CHECKS) is not validator
    grown = build_data_extension(
        {"name": "Kept", "key": "kept", "fields": [*FIELDS, {"name": "Extra", "type": "Number"}]}
    )
    row = RowInput({"Id": "u1", "Region": "eu"}, {"Required": "x", "Extra": "many"}, True)
    assert row_validator(grown) is not validator
    assert plan_rows(grown, [row], lambda keys: {}).failed[0].problems == [
        "Extra: The value for column [Extra] is not a valid number."
    ]
    assert plan_rows(de, [row], lambda keys: {}).outcomes[0].ignored == ["Extra"]


def test_rowset_rows_keep_prepare_rows_column_order_values_then_keys():
    rows = [RowInput({"region": "eu", "Id": f"u{i}"}, {"Score": "2", "Required": "x"}, True) for i in range(10)]
    plan = plan_rows(DE, rows, lambda keys: {}, stop_at_first_error=True)
    assert not plan.failed
    assert list(plan.writes['["u3", "eu"]'].items()) == [
        ("Score", "2.00"),
        ("Required", "x"),
        ("Region", "eu"),
        ("Id", "u3"),
    ]


FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e16, max_value=1e16).map(lambda x: round(x, 2)),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: round(x, 4)),
    st.sampled_from([0.0, -0.0, 1e-4, 9e-5, 0.00015, 1e15, 9999999999999.99, 0.1 + 0.2, 1e-05, 2.675]),
)


@settings(max_examples=300, deadline=None)
@given(precision=st.integers(1, 29), scale=st.integers(0, 8), values=st.lists(FLOATS, min_size=1, max_size=10))
def test_a_decimal_column_of_floats_agrees_with_the_value_check_or_declines(precision, scale, values):
    scale = min(scale, precision)
    field = build_data_extension(
        {"name": "D", "key": "d", "fields": [{"name": "N", "type": "Decimal", "precision": precision, "scale": scale}]}
    ).fields[0]
    stored = column_check(field, CHECKS)(values)
    if stored is not None:
        assert stored == [CHECKS["Decimal"](field, value) for value in values]


# plan_rows takes a row's outcome from the column path as a whole batch when every row is plain, and
# creates a batch of new keys (each once, no required column or default to fill) without its per-row
# merge; its answers are held to the per-row path: every row through prepare_row, then the merge loop
OPEN = build_data_extension({"name": "Open", "key": "open", "fields": [f for f in FIELDS if f["name"] != "Required"]})
DEFAULTED = build_data_extension(
    {
        "name": "Defaulted",
        "key": "defaulted",
        "fields": [*FIELDS[:-1], {"name": "Plan", "type": "Text", "defaultValue": "free"}],
    }
)


@st.composite
def flat_items(draw, names: list[str]):
    """Flat items (the async API's) naming both primary keys and some other columns in one order,
    mostly plain values; mostly new keys, sometimes one sent before or stored."""
    others = draw(st.lists(st.sampled_from(names), max_size=5, unique=True))
    order = draw(st.permutations(["Id", "Region", *others]))
    plain = draw(st.booleans())
    items = []
    for i in range(draw(st.integers(min_value=1, max_value=30))):
        item: dict[str, object] = {}
        for name in order:
            if name == "Region":
                item[name] = draw(st.sampled_from(["EU", "eu", "US"]))
            elif name == "Id":
                item[name] = draw(st.sampled_from(["a", "B", "ab"])) if draw(st.integers(0, 29)) == 0 else f"k{i}"
            else:
                given = PLAIN.get(name, _text("pro", 4))  # Plan: DEFAULTED's column with a default
                item[name] = draw(given if plain or draw(st.integers(0, 19)) else st.one_of(given, blank, odd))
        items.append(item)
    return items


def _plan_seen(plan) -> tuple:
    outcomes = [(*seen, o.created) for seen, o in zip(_seen(plan.outcomes), plan.outcomes, strict=True)]
    assert [plan.outcomes[i] for i in range(len(plan.outcomes))] == list(plan.outcomes)
    failed = [o.index for o in plan.failed]
    return outcomes, list(plan.writes.items()), plan.appends, failed, plan.ignored_keys, len(plan.saved)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    de=st.sampled_from([OPEN, DE, DEFAULTED]),
    insert_only=st.booleans(),
    stop_at_first_error=st.booleans(),
    sfmc_dates=st.booleans(),
)
def test_plan_rows_answers_as_the_per_row_path(data, de, insert_only, stop_at_first_error, sfmc_dates):
    names = [f.name for f in de.fields if f.name not in ("Id", "Region", "Required")]
    items = data.draw(flat_items(names))
    if de is DE and data.draw(st.booleans()):
        for item in items:
            item["Required"] = "x"
    stored_keys = data.draw(st.sets(st.sampled_from(["a", "b", "ab", "ba"])))
    stored = {f'["{k}", "eu"]': {"Id": k.upper(), "Region": "EU", "Name": "Old"} for k in stored_keys}

    def existing(keys):
        return {k: dict(stored[k]) for k in keys if k in stored}

    def plan(rows):
        return plan_rows(
            de, rows, existing, insert_only=insert_only, stop_at_first_error=stop_at_first_error, sfmc_dates=sfmc_dates
        )

    def per_row(self, de, rows, strict):
        return [prepare_row(de, row, i, strict, self.checks) for i, row in enumerate(rows)]

    rows, _positions, _refused = row_inputs(de, items, FLAT)
    assert isinstance(rows, FlatRows) and list(rows) == [RowInput({}, item) for item in items]
    bulk, listed = plan(rows), plan([RowInput({}, item) for item in items])
    with patch.object(RowValidator, "check", per_row):
        expected = plan([RowInput({}, item) for item in items])
    assert _plan_seen(bulk) == _plan_seen(expected)
    assert _plan_seen(listed) == _plan_seen(expected)


def test_a_batch_of_new_keys_is_created_as_it_stands():
    items = [{"Id": f"u{i}", "Region": "EU", "Score": 1.5} for i in range(40)]
    rows, positions, refused = row_inputs(OPEN, items, FLAT)
    assert isinstance(rows, FlatRows) and positions == list(range(40)) and refused == {}
    assert rows[3] == RowInput({}, items[3]) and rows[1:3] == [RowInput({}, items[1]), RowInput({}, items[2])]
    plan = plan_rows(OPEN, rows, lambda keys: {}, stop_at_first_error=False)
    assert all(o.created and o.ok for o in plan.outcomes) and not plan.appends and not plan.ignored_keys
    assert isinstance(plan.outcomes, CreatedRows) and not plan.failed and len(plan.saved) == 40
    assert (
        plan.outcomes[-1]
        == plan.outcomes[39]
        == RowOutcome(39, '["u39", "eu"]', plan.writes['["u39", "eu"]'], created=True)
    )
    assert plan.outcomes[-1].created and [o.index for o in plan.outcomes[2:5]] == [2, 3, 4]
    assert plan.writes['["u7", "eu"]'] == {"Id": "u7", "Region": "EU", "Score": "1.50"}
    # a key sent twice: the second row updates the first, as row by row
    items[9]["Id"] = "U3"
    plan = plan_rows(OPEN, row_inputs(OPEN, items, FLAT)[0], lambda keys: {}, stop_at_first_error=False)
    assert len(plan.writes) == 39 and not plan.outcomes[9].created and plan.writes['["u3", "eu"]']["Id"] == "u3"


DATE_SHAPES = [
    "2020-05-30",
    "2020-05-30T13:30",
    "2020-05-30T13:30:00+00:00",
    "2020-05-30 13:30:00.123Z",
    "2020-05-30T13:30:00+0100",
    "2020-5-30",
    "2020-05-30T13:30:00+00:00:00",
    "2020-05-30T13",
    "20200530",
]


@st.composite
def date_columns(draw):
    """A column of date texts, most of one shape (digits drawn anew): a known shape or a drawn one, with
    a non-ASCII digit, a newline, a letter or a stray character now and then."""
    template = draw(st.sampled_from(DATE_SHAPES) | st.text(alphabet="0123456789-T :.Z+\n\u0663x", max_size=28))

    def variant() -> str:
        return "".join(draw(st.sampled_from("0123456789")) if c.isdigit() and c.isascii() else c for c in template)

    texts = [variant() for _ in range(draw(st.integers(1, 12)))]
    if draw(st.booleans()):
        odd = draw(st.sampled_from(DATE_SHAPES) | st.text(alphabet="0123456789-T :.Z+\n\u0663", max_size=28))
        texts.insert(draw(st.integers(0, len(texts))), odd)
    return texts


@settings(max_examples=500, deadline=None)
@given(texts=date_columns())
# texts with newlines that join into the first one's shape repeated, though the last does not match
@example(texts=["2020-05-30\n", "2020-05-30", "\n2020-05-30\n"])
def test_a_date_column_of_one_shape_matches_the_pattern_as_each_value_does(texts):
    assert _all_iso_dates(texts) == all(_ISO_DATE.match(t) for t in texts)


EMAIL_CHARS = "ab.@ \t\n\x1c\x00\u00e9\u2028"
# mostly address-like texts (a part, an @, a part, a dot, a part), some of them broken by what each part draws
email_texts = st.one_of(
    st.builds(
        lambda a, b, c, end: f"{a}@{b}.{c}{end}",
        *[st.text(alphabet=EMAIL_CHARS if n == 1 else "abc0.", min_size=n % 2, max_size=5) for n in (1, 2, 1)],
        st.sampled_from(["", "", "\n", " ", "@"]),
    ),
    st.text(alphabet=EMAIL_CHARS, max_size=10),
)


@settings(max_examples=500, deadline=None)
@given(texts=st.lists(email_texts, max_size=8))
# a NUL inside a text (the separator of the joined column): its text matches, its split pieces would not
@example(texts=["a@b.c\x00x", "y@z.w"])
@example(texts=["user7@example.com", "user10@example.com", "a@b.c\n"])
def test_an_email_column_matches_the_pattern_as_each_value_does(texts):
    assert _all_emails(texts) == all(_EMAIL.match(t) for t in texts)
