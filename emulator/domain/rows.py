"""Row validation and upsert planning: the one validator every write path uses.

Sync rowsets, single-row PUTs, async jobs and Journey Builder events all turn their input into
``RowInput``s and call ``plan_rows``. It resolves column names case-insensitively, checks
types, primary keys and nullability, merges with the rows already stored, and says what to
write, what was ignored and what failed, in SFMC's wording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _encode_string
from typing import cast

from .data_extensions import DataExtension
from .fields import CHECKS, SFMC_DATE_CHECKS, FieldSpec, ValueProblem

NO_EXISTING_FIELD = "At least one existing field is required in the values property"

Row = dict[str, str | None]  # a stored row: canonical column name -> value as SFMC stores it (a string)
Check = Callable[[FieldSpec, object], str]  # a column type's value rule (fields.CHECKS)


@dataclass(frozen=True)
class RowInput:
    # as the client sent them: prepare_row refuses a row whose keys or values are not objects
    keys: object
    values: object
    needs_value: bool = False  # a {keys, values} row: SFMC refuses one whose values name no column (FMT-4 aside)


@dataclass
class RowOutcome:
    """What happened to one submitted row."""

    index: int
    row_key: str | None = None
    data: Row | None = None  # the full stored row after the write, canonical column names
    ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    created: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RowPlan:
    outcomes: list[RowOutcome]
    writes: dict[str | None, Row]  # row_key -> data (None-keyed rows are appended)
    appends: list[Row]

    @property
    def saved(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ignored_keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for outcome in self.outcomes:
            seen.update(dict.fromkeys(outcome.ignored))
        return list(seen)


def row_key_of(values: Iterable[str]) -> str:
    """Identity of a row from its primary-key values; case-insensitive, as SQL Server compares them.

    Exactly ``json.dumps([v.lower() ...], ensure_ascii=False)`` (stored keys depend on it), built
    from the encoder's own string escaper because this runs once per row on the bulk path.
    """
    return "[" + ", ".join([_encode_string(v.lower()) for v in values]) + "]"


def _check_into(data: Row, problems: list[str], column: FieldSpec, value: object, checks: Mapping[str, Check]) -> None:
    """Store the checked value of one column in ``data``, or record why it is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):  # fields.is_empty, inlined
        if not column.is_nullable:
            problems.append(f"{column.name}: The column [{column.name}] is required and cannot be null or empty.")
        data[column.name] = None
        return
    try:
        data[column.name] = checks[column.type](column, value)  # fields.check_value without its call
    except ValueProblem as problem:
        problems.append(str(problem))
        data[column.name] = None


def prepare_row(
    de: DataExtension, row: RowInput, index: int, strict: bool, checks: Mapping[str, Check] = CHECKS
) -> RowOutcome:
    """Validate one row in isolation: names, primary keys present, types, nullability of given values."""
    outcome = RowOutcome(index)
    if not isinstance(row.keys, dict) or not isinstance(row.values, dict):
        outcome.problems.append("Each row needs 'keys' and 'values' objects.")
        return outcome
    pk_columns = de.primary_keys
    column_of = de.column
    problems = outcome.problems
    keys: dict[str, tuple[FieldSpec, object]] = {}
    not_keys: list[str] = []
    for name, value in row.keys.items():
        column = column_of(name)
        if column is None:
            problems.append(f"Primary key '{name}' does not exist.")
        else:
            keys[column.name] = (column, value)
    for name, (column, _value) in keys.items():
        if not column.is_primary_key:
            not_keys.append(f"Primary key '{name}' does not exist.")
    problems.extend(not_keys)
    data: Row = {}
    # values first, then keys, which win when a column is given in both (the async API's flat rows
    # carry their primary-key columns among the values)
    for name, value in row.values.items():
        column = column_of(name)
        if column is None:
            outcome.ignored.append(str(name))
            if strict:
                problems.append(f"{name}: The column [{name}] does not exist in data extension '{de.key}'.")
        elif column.name not in keys:
            _check_into(data, problems, column, value, checks)
    if row.needs_value and not any(column_of(name) is not None for name in row.values):
        problems.append(NO_EXISTING_FIELD)
    for column, value in keys.values():
        _check_into(data, problems, column, value, checks)
    for pk in pk_columns:
        if data.get(pk.name) is None and not any(pk.name in p for p in outcome.problems):
            outcome.problems.append(f"{pk.name}: The primary key column [{pk.name}] is required.")
    if pk_columns and not outcome.problems:
        # no problem means every key column holds a value (a missing one was reported just above)
        outcome.row_key = row_key_of(cast(str, data[pk.name]) for pk in pk_columns)
    outcome.data = data
    return outcome


def plan_rows(
    de: DataExtension,
    rows: list[RowInput],
    existing: Callable[[list[str]], Mapping[str, Row]],
    *,
    strict: bool = False,
    insert_only: bool = False,
    stop_at_first_error: bool = True,
    sfmc_dates: bool = False,
) -> RowPlan:
    """Decide the writes for ``rows`` against ``de``.

    ``existing(row_keys)`` returns the stored rows for those keys. With ``stop_at_first_error``
    (sync rowsets) rows before the first bad row are saved and the rest rejected, as SFMC does;
    without it (async jobs) each row stands or fails alone. ``insert_only`` makes a duplicate
    primary key an error instead of an update.
    """
    checks = SFMC_DATE_CHECKS if sfmc_dates else CHECKS
    outcomes = [prepare_row(de, row, i, strict, checks) for i, row in enumerate(rows)]
    if stop_at_first_error:
        first_bad = next((o.index for o in outcomes if not o.ok), None)
        if first_bad is not None:
            for later in outcomes[first_bad + 1 :]:
                later.problems.append("Not processed: an earlier row in the request failed.")
    stored = existing([o.row_key for o in outcomes if o.ok and o.row_key is not None])
    writes: dict[str | None, Row] = {}
    appends: list[Row] = []
    required = [c for c in de.fields if not c.is_nullable and c.default is None and not c.is_primary_key]
    defaults = {c.name: c.default for c in de.fields if c.default is not None}
    for outcome in outcomes:
        data = outcome.data
        if not outcome.ok or data is None:  # prepare_row gives every row without problems its data
            continue
        key = outcome.row_key
        if key is None:
            current = None
        elif key in writes:
            current = writes[key]
        else:
            current = stored.get(key)
        if current is not None and insert_only:
            # SFMC's wording (the Salesforce reference's async results example)
            duplicate = ", ".join(str(current[pk.name]) for pk in de.primary_keys)
            outcome.problems.append(
                f"Violation of PRIMARY KEY constraint 'PK_{de.id}'. Cannot insert duplicate key in object "
                f"'{de.key}'. The duplicate key value is ({duplicate}).\r\nThe statement has been terminated."
            )
        elif current is None:
            missing = [c.name for c in required if data.get(c.name) is None]
            if missing:
                outcome.problems.extend(
                    f"{name}: The column [{name}] is required and cannot be null or empty." for name in missing
                )
            else:
                outcome.created = True
                outcome.data = data = {**defaults, **data}
        else:
            # an update keeps the stored spelling of the key (keys compare case-insensitively)
            outcome.data = data = {**current, **data, **{pk.name: current[pk.name] for pk in de.primary_keys}}
        if not outcome.ok:
            if stop_at_first_error:
                for later in outcomes[outcome.index + 1 :]:
                    if later.ok:
                        later.problems.append("Not processed: an earlier row in the request failed.")
            continue
        if key is None:
            appends.append(data)
        else:
            writes[key] = data
    return RowPlan(outcomes, writes, appends)
