"""Row validation and upsert planning: the one validator every write path uses.

Sync rowsets, single-row PUTs, async jobs and Journey Builder events all turn their input into
``RowInput``s and call ``plan_rows``. It resolves column names case-insensitively, checks
types, primary keys and nullability, merges with the rows already stored, and says what to
write, what was ignored and what failed, in SFMC's wording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from json.encoder import encode_basestring as _encode_string
from operator import itemgetter
from typing import NamedTuple, cast, overload

from .column_checks import ColumnCheck, column_check
from .data_extensions import DataExtension
from .fields import CHECKS, SFMC_DATE_CHECKS, FieldSpec, ValueProblem

NO_EXISTING_FIELD = "At least one existing field is required in the values property"
NOT_PROCESSED = "Not processed: an earlier row in the request failed."

Row = dict[str, str | None]  # a stored row: canonical column name -> value as SFMC stores it (a string)
Check = Callable[[FieldSpec, object], str]  # a column type's value rule (fields.CHECKS)
Names = tuple[str, ...]  # column names in the order a row gives them
# columns of a row as sent, each as (its name as sent, its canonical name, the column, its check)
PlainColumns = list[tuple[str, str, FieldSpec, Check]]


class RowInput(NamedTuple):
    """One row as a client sent it (a tuple: the bulk path makes 32,000 of them per async job)."""

    # as the client sent them: prepare_row refuses a row whose keys or values are not objects
    keys: object
    values: object
    needs_value: bool = False  # a {keys, values} row: SFMC refuses one whose values name no column (FMT-4 aside)


class FlatRows(Sequence[RowInput]):
    """Flat items (the async API's: each a dict of column values, primary keys among them) as row
    inputs: ``RowInput({}, item)`` for each, made only when a row is looked at alone. The validator
    checks the items themselves a column at a time, so a 32,000-item job makes no row input."""

    __slots__ = ("items",)

    def __init__(self, items: list[dict[str, object]]):
        self.items = items  # every one a dict

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> RowInput: ...

    @overload
    def __getitem__(self, index: slice) -> list[RowInput]: ...

    def __getitem__(self, index: int | slice) -> RowInput | list[RowInput]:
        if isinstance(index, slice):
            return [RowInput({}, item) for item in self.items[index]]
        return RowInput({}, self.items[index])

    def __iter__(self) -> Iterator[RowInput]:
        return (RowInput({}, item) for item in self.items)


@dataclass(slots=True)
class RowOutcome:
    """What happened to one submitted row.

    ``ignored`` and ``problems`` are empty tuples until something is recorded (then lists): the bulk
    path makes one outcome per row of a 32,000-row job, and two empty lists each were a third of it.
    """

    index: int
    row_key: str | None = None
    data: Row | None = None  # the full stored row after the write, canonical column names
    ignored: Sequence[str] = ()
    problems: Sequence[str] = ()
    created: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def refuse(self, *problems: str) -> None:
        """Record problems of this row (after those already recorded)."""
        self.problems = [*self.problems, *problems]


class CreatedRows(Sequence[RowOutcome]):
    """The outcomes of a batch whose every row was created as it stands (no problem, nothing ignored),
    each made when looked at: a 32,000-row job keeps its row keys and rows, not 32,000 outcome objects
    for the collector to walk. Made anew on each look: nothing changes an outcome once planned."""

    __slots__ = ("data", "row_keys")

    def __init__(self, row_keys: list[str | None], data: list[Row]):
        self.row_keys, self.data = row_keys, data

    def __len__(self) -> int:
        return len(self.data)

    @overload
    def __getitem__(self, index: int) -> RowOutcome: ...

    @overload
    def __getitem__(self, index: slice) -> list[RowOutcome]: ...

    def __getitem__(self, index: int | slice) -> RowOutcome | list[RowOutcome]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        index = range(len(self))[index]  # a negative index counts from the end; out of range raises
        return RowOutcome(index, self.row_keys[index], self.data[index], (), (), True)

    def __iter__(self) -> Iterator[RowOutcome]:
        # (index, row key, data, no ignored name, no problem, created)
        return map(RowOutcome, range(len(self)), self.row_keys, self.data, repeat(()), repeat(()), repeat(True))


@dataclass
class RowPlan:
    outcomes: Sequence[RowOutcome]
    writes: dict[str | None, Row]  # row_key -> data (None-keyed rows are appended)
    appends: list[Row]
    written: bool = False  # the writes are stored already (``plan_rows``' ``create``): nothing left to write
    # a lone row planned without reading its stored row (``plan_rows(merge=True)``): its one write holds the
    # columns it sends, for the store to merge into the stored row keeping these key columns' stored values
    # (``Store.merge_row``); its outcome's data is that write and ``created`` is not known
    merge: Names | None = None

    @property
    def saved(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if not o.problems]

    @property
    def failed(self) -> list[RowOutcome]:
        if isinstance(self.outcomes, CreatedRows):
            return []
        return [o for o in self.outcomes if o.problems]

    @property
    def ignored_keys(self) -> list[str]:
        if isinstance(self.outcomes, CreatedRows):
            return []
        seen: dict[str, None] = {}
        for outcome in self.outcomes:
            if outcome.ignored:
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
    problems: list[str] = []
    ignored: list[str] = []
    outcome = RowOutcome(index, None, None, ignored, problems)
    if not isinstance(row.keys, dict) or not isinstance(row.values, dict):
        problems.append("Each row needs 'keys' and 'values' objects.")
        return outcome
    pk_columns = de.primary_keys
    column_of = de.column
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
            ignored.append(str(name))
            if strict:
                problems.append(f"{name}: The column [{name}] does not exist in data extension '{de.key}'.")
        elif column.name not in keys:
            _check_into(data, problems, column, value, checks)
    if row.needs_value and not any(column_of(name) is not None for name in row.values):
        problems.append(NO_EXISTING_FIELD)
    for column, value in keys.values():
        _check_into(data, problems, column, value, checks)
    for pk in pk_columns:
        if data.get(pk.name) is None and not any(pk.name in p for p in problems):
            problems.append(f"{pk.name}: The primary key column [{pk.name}] is required.")
    if pk_columns and not problems:
        # no problem means every key column holds a value (a missing one was reported just above)
        outcome.row_key = row_key_of(cast(str, data[pk.name]) for pk in pk_columns)
    outcome.data = data
    return outcome


SMALL_BATCH = 8  # fewer rows than this go row by row: checking a column at a time pays off from about here


class RowValidator:
    """The row rules of one Data Extension schema version, bound once: a column check per column.

    ``prepare`` gives the same outcomes as ``prepare_row`` on each row. Rows that name the same key
    and value columns in the same order (the async API's flat items; a rowset's ``{keys, values}``
    rows) are checked a column at a time; a group with any value that is not plainly fine (empty,
    refused, of an unusual type), an unknown or repeated column, a key that is no primary key or a
    missing primary key goes row by row through ``prepare_row``, which decides and words every
    problem. Batches of fewer than ``SMALL_BATCH`` rows go row by row: a row whose columns are plain and
    whose values all pass through each column's check, compiled once per set of names it sends
    (``_prepare_plain``), any other through ``prepare_row``.
    """

    def __init__(self, de: DataExtension, checks: Mapping[str, Check]):
        self.checks = checks
        self.columns: dict[str, ColumnCheck] = {f.name: column_check(f, checks) for f in de.fields}
        self.primary_keys = tuple(pk.name for pk in de.primary_keys)
        # what plan_rows asks of the schema for every write
        self.required = [c for c in de.fields if not c.is_nullable and c.default is None and not c.is_primary_key]
        self.defaults = {c.name: c.default for c in de.fields if c.default is not None}
        # rows keyed by a primary key whose new ones are stored as they stand (no default, no required
        # column): a new key's plan needs no stored row (plan_rows' ``create``, ``merge`` and its no-key-stored case)
        self.as_sent = bool(self.primary_keys) and not self.required and not self.defaults
        # (key names, value names) as sent -> the canonical names of the values, then of the keys
        self._names: dict[tuple[Names, Names], Names | None] = {}
        self._builders: dict[Names, Callable[..., Row]] = {}  # canonical names -> a row dict from their values
        # (key names, value names) as sent -> the columns of the values, then of the keys, each as (its name as
        # sent, its canonical name, the column, its check): the plain rows of small batches (_prepare_plain)
        self._plain: dict[tuple[Names, Names], tuple[PlainColumns, PlainColumns] | None] = {}
        # the one primary key column's name (a row key from its value alone), else None
        self._one_key = self.primary_keys[0] if len(self.primary_keys) == 1 else None

    def prepare(self, de: DataExtension, rows: Sequence[RowInput], strict: bool) -> list[RowOutcome]:
        checked = self.check(de, rows, strict)
        if isinstance(checked, Plain):
            return list(map(RowOutcome, range(len(rows)), checked.row_keys, checked.data))
        return checked

    def check(self, de: DataExtension, rows: Sequence[RowInput], strict: bool) -> Plain | list[RowOutcome]:
        """``Plain`` when every row names the same columns in the same order and every value is plainly
        fine (no row has a problem or an ignored name: each one's outcome is its row key and data),
        else the outcome of each row."""
        if len(rows) == 1:  # a lone row (the 1-row rowset, the single-row PUT)
            row = rows[0]
            return [self._prepare_plain(de, row, 0) or prepare_row(de, row, 0, strict, self.checks)]
        if len(rows) < SMALL_BATCH:  # a rowset of a few rows: each plain row checked by its compiled columns
            checks = self.checks
            return [
                self._prepare_plain(de, row, i) or prepare_row(de, row, i, strict, checks) for i, row in enumerate(rows)
            ]
        # the usual bulk input, checked without grouping row by row: every row names the same columns
        uniform = _same_names(rows)
        if uniform is not None:
            values_of, keys_of, sent = uniform
            plain = self._prepare_group(de, sent, values_of, keys_of)
            if plain is not None:
                return plain
            checks = self.checks  # one group that is not plain: every row goes row by row
            return [prepare_row(de, row, i, strict, checks) for i, row in enumerate(rows)]
        outcomes: list[RowOutcome | None] = [None] * len(rows)
        groups: dict[tuple[Names, Names], list[int]] = {}
        for i, (keys, values, _needs_value) in enumerate(rows):
            if values.__class__ is dict and keys.__class__ is dict and values:
                sent = (tuple(keys), tuple(values))
                group = groups.get(sent)
                if group is None:
                    groups[sent] = [i]
                else:
                    group.append(i)
        for sent, indexes in groups.items():
            # dicts: only those were grouped
            values_of = [cast(dict[str, object], rows[i].values) for i in indexes]
            keys_of = [cast(dict[str, object], rows[i].keys) for i in indexes] if sent[0] else []
            plain = self._prepare_group(de, sent, values_of, keys_of)
            if plain is None:
                continue
            for i, outcome in zip(indexes, map(RowOutcome, indexes, plain.row_keys, plain.data), strict=True):
                outcomes[i] = outcome
        checks = self.checks
        return [
            outcome if outcome is not None else prepare_row(de, rows[i], i, strict, checks)
            for i, outcome in enumerate(outcomes)
        ]

    def _prepare_plain(self, de: DataExtension, row: RowInput, index: int) -> RowOutcome | None:
        """``prepare_row``'s outcome for a row of dicts naming plain columns (``_canonical``) whose values are
        all non-empty and accepted by their columns; None for any other row, which ``prepare_row`` decides.

        Such a row has no problem and nothing ignored: its data are the stored values, the values' columns
        first, then the keys', as ``prepare_row`` builds them."""
        keys, values, _needs_value = row
        if keys.__class__ is not dict or values.__class__ is not dict or not values:
            return None
        sent = (tuple(keys), tuple(values))
        try:
            columns = self._plain[sent]
        except KeyError:
            columns = self._plain_columns(de, sent)
        if columns is None:
            return None
        of_values, of_keys = columns
        data: Row = {}
        try:
            for source, of_source in ((values, of_values), (keys, of_keys)):
                for given, name, column, check in of_source:
                    value = source[given]
                    # empty: prepare_row's rules (a str, as JSON gives it, told apart without isinstance)
                    if value.__class__ is str:
                        if not value.strip():
                            return None
                    elif value is None or (isinstance(value, str) and not value.strip()):
                        return None
                    data[name] = check(column, value)
        except ValueProblem:
            return None  # refused: prepare_row words it
        one_key = self._one_key
        if one_key is not None:  # row_key_of of one value
            row_key: str | None = "[" + _encode_string(cast(str, data[one_key]).lower()) + "]"
        else:
            primary_keys = self.primary_keys
            row_key = row_key_of(cast(str, data[name]) for name in primary_keys) if primary_keys else None
        return RowOutcome(index, row_key, data)

    def _plain_columns(self, de: DataExtension, sent: tuple[Names, Names]) -> tuple[PlainColumns, PlainColumns] | None:
        names = self._canonical(de, sent)
        columns = None
        if names is not None:
            sent_keys, sent_values = sent
            fields = {f.name: f for f in de.fields}
            of_values, of_keys = names[: len(sent_values)], names[len(sent_values) :]
            columns = (
                [
                    (name, c, fields[c], self.checks[fields[c].type])
                    for name, c in zip(sent_values, of_values, strict=True)
                ],
                [(name, c, fields[c], self.checks[fields[c].type]) for name, c in zip(sent_keys, of_keys, strict=True)],
            )
        if len(self._plain) < 1024:
            self._plain[sent] = columns
        return columns

    def _canonical(self, de: DataExtension, sent: tuple[Names, Names]) -> Names | None:
        """Canonical names of the values, then of the keys (``prepare_row``'s order), when the rows are plain."""
        try:
            return self._names[sent]
        except KeyError:
            pass
        sent_keys, sent_values = sent
        keys = [de.column(name) for name in sent_keys]
        values = [de.column(name) for name in sent_values]
        columns = [c for c in values + keys if c is not None]
        names = tuple(c.name for c in columns)
        plain = (
            len(names) == len(sent_keys) + len(sent_values) == len(set(names))
            and all(c is not None and c.is_primary_key for c in keys)
            and all(pk in names for pk in self.primary_keys)
        )
        if len(self._names) < 1024:
            self._names[sent] = names if plain else None
        return names if plain else None

    def _prepare_group(
        self,
        de: DataExtension,
        sent: tuple[Names, Names],
        values_of: Sequence[dict[str, object]],
        keys_of: Sequence[dict[str, object]],
    ) -> Plain | None:
        """The row keys and stored rows of rows (their values and keys dicts, each naming the columns ``sent``
        in that order), or None when they go row by row."""
        names = self._canonical(de, sent)
        if names is None:
            return None
        # every row's values (then keys) in the order ``sent`` names them: its columns, one tuple each
        columns = list(zip(*map(dict.values, values_of), strict=True))
        if sent[0]:
            columns += zip(*map(dict.values, keys_of), strict=True)
        stored = []
        for values, name in zip(columns, names, strict=True):
            column = self.columns[name](values)
            if column is None:
                return None
            stored.append(column)
        if not self.primary_keys:
            row_keys: list[str | None] = [None] * len(values_of)
        elif len(self.primary_keys) == 1:
            pk = stored[names.index(self.primary_keys[0])]
            row_keys = ["[" + text + "]" for text in map(_encode_string, map(str.lower, pk))]
        else:
            pks = [stored[names.index(name)] for name in self.primary_keys]
            row_keys = [row_key_of(values) for values in zip(*pks, strict=True)]
        build = self._builders.get(names)
        if build is None:
            build = self._builders[names] = _row_builder(names) if len(self._builders) < 1024 else _zip_row(names)
        return Plain(row_keys, list(map(build, *stored)))


class Plain(NamedTuple):
    """Rows that all passed a column at a time: each one's row key and stored row, in order."""

    row_keys: list[str | None]
    data: list[Row]


Sent = Sequence[dict[str, object]]  # the values (or keys) dicts of rows, one per row


def _same_names(rows: Sequence[RowInput]) -> tuple[Sent, Sent, tuple[Names, Names]] | None:
    """(values dicts, keys dicts, (key names, value names)) when every row is a pair of dicts naming the
    same key and value columns in the same order, the value columns not none; else None."""
    if isinstance(rows, FlatRows):  # values only, every one a dict
        items = rows.items
        sent_values = tuple(items[0])
        if not sent_values or not all(map(sent_values.__eq__, map(tuple, items))):
            return None
        return items, [], ((), sent_values)
    values_of = list(map(itemgetter(1), rows))
    keys_of = list(map(itemgetter(0), rows))
    if set(map(type, values_of)) != {dict} or set(map(type, keys_of)) != {dict}:
        return None
    sent_values = tuple(values_of[0])
    if not sent_values or not all(map(sent_values.__eq__, map(tuple, values_of))):
        return None
    sent_keys = tuple(keys_of[0])
    if sent_keys:
        if not all(map(sent_keys.__eq__, map(tuple, keys_of))):
            return None
    elif any(keys_of):
        return None
    return values_of, keys_of if sent_keys else [], (sent_keys, sent_values)


def _row_builder(names: Names) -> Callable[..., Row]:
    """A function of one value per column giving the row dict ``dict(zip(names, values))``, about twice as
    fast: a dict display with the names bound as globals (the source holds only generated identifiers)."""
    params = ", ".join(f"v{i}" for i in range(len(names)))
    items = ", ".join(f"k{i}: v{i}" for i in range(len(names)))
    return cast(Callable[..., Row], eval(f"lambda {params}: {{{items}}}", {f"k{i}": n for i, n in enumerate(names)}))


def _zip_row(names: Names) -> Callable[..., Row]:
    return lambda *values: dict(zip(names, values, strict=True))


_VALIDATORS: dict[tuple[tuple[FieldSpec, ...], bool], RowValidator] = {}


def row_validator(de: DataExtension, checks: Mapping[str, Check] = CHECKS) -> RowValidator:
    """The validator of ``de``'s schema version, compiled on first use and kept.

    Kept on the DE object itself (a changed schema is a new object), so a write finds it without hashing
    the schema's field specs; DE objects of the same schema (re-read from a shared store, a re-created
    DE) share one through the module's cache."""
    sfmc_dates = checks is SFMC_DATE_CHECKS
    compiled = de.compiled
    validator = compiled.get(sfmc_dates)
    if validator is None:
        key = (de.fields, sfmc_dates)
        validator = _VALIDATORS.get(key)
        if validator is None:
            if len(_VALIDATORS) >= 256:
                _VALIDATORS.clear()
            validator = _VALIDATORS[key] = RowValidator(de, checks)
        compiled[sfmc_dates] = validator
    return cast(RowValidator, validator)


def plan_rows(
    de: DataExtension,
    rows: Sequence[RowInput],
    existing: Callable[[list[str]], Mapping[str, Row]],
    *,
    strict: bool = False,
    insert_only: bool = False,
    stop_at_first_error: bool = True,
    sfmc_dates: bool = False,
    create: Callable[[dict[str, Row]], bool] | None = None,
    merge: bool = False,
) -> RowPlan:
    """Decide the writes for ``rows`` against ``de``.

    ``existing(row_keys)`` returns the stored rows for those keys. With ``stop_at_first_error``
    (sync rowsets) rows before the first bad row are saved and the rest rejected, as SFMC does;
    without it (async jobs) each row stands or fails alone. ``insert_only`` makes a duplicate
    primary key an error instead of an update.

    ``create(writes)`` (``Store.insert_new_rows``): stores keyed rows as new rows when none of their
    keys is stored (True), else stores nothing (False). Rows whose plan would make each one a new row as
    it stands, were none of their keys stored, are handed to it before any read: the plan it stored is
    ``written``, the one ``existing`` would have given; after a False, the rows are planned as without it.

    ``merge``: the caller's store merges a row into its stored row itself (``Store.merge_row``). A lone
    row without problems whose fate does not hang on its stored row (a Data Extension with primary keys
    whose new rows need no default and no required column, no ``insert_only``) is then planned without
    calling ``existing``: the plan's ``merge`` names the key columns whose stored values an update keeps.
    """
    checks = SFMC_DATE_CHECKS if sfmc_dates else CHECKS
    validator = row_validator(de, checks)
    checked = validator.check(de, rows, strict)
    required, defaults, key_names = validator.required, validator.defaults, validator.primary_keys
    as_sent = validator.as_sent
    if merge and len(rows) == 1 and as_sent and not insert_only:
        outcome = cast("list[RowOutcome]", checked)[0]  # a lone row is checked row by row: a list of its outcome
        if not outcome.problems and outcome.data is not None:  # without problems, a row has its key and data
            return RowPlan([outcome], {outcome.row_key: outcome.data}, [], merge=key_names)
    if isinstance(checked, Plain):  # no row has a problem; with primary keys, each row has its key
        row_keys, datas = checked
        count = len(datas)
        writes: dict[str | None, Row] = dict(zip(row_keys, datas, strict=True)) if as_sent else {}
        # each key once: if none is stored, every row is created as it stands
        as_created = as_sent and len(writes) == count
        if as_created and create is not None and create(cast(dict[str, Row], writes)):
            return RowPlan(CreatedRows(row_keys, datas), writes, [], written=True)
        stored = existing(cast(list[str], row_keys) if key_names else [])
        if as_created and not stored:
            return RowPlan(CreatedRows(row_keys, datas), writes, [])
        outcomes = list(map(RowOutcome, range(count), row_keys, datas))
    else:
        outcomes = checked
        if stop_at_first_error:
            first_bad = next((o.index for o in outcomes if o.problems), None)
            if first_bad is not None:
                for later in outcomes[first_bad + 1 :]:
                    later.refuse(NOT_PROCESSED)
        # (outcome.problems rather than outcome.ok in these loops: a property call per row adds up in bulk)
        stored = existing([o.row_key for o in outcomes if not o.problems and o.row_key is not None])
    writes = {}
    appends: list[Row] = []
    for outcome in outcomes:
        data = outcome.data
        if outcome.problems or data is None:  # prepare_row gives every row without problems its data
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
            outcome.refuse(
                f"Violation of PRIMARY KEY constraint 'PK_{de.id}'. Cannot insert duplicate key in object "
                f"'{de.key}'. The duplicate key value is ({duplicate}).\r\nThe statement has been terminated."
            )
        elif current is None:
            missing = [c.name for c in required if data.get(c.name) is None] if required else None
            if missing:
                outcome.refuse(
                    *(f"{name}: The column [{name}] is required and cannot be null or empty." for name in missing)
                )
            else:
                outcome.created = True
                if defaults:
                    outcome.data = data = {**defaults, **data}
        else:
            # an update keeps the stored spelling of the key (keys compare case-insensitively)
            outcome.data = data = {**current, **data}
            for name in key_names:
                data[name] = current[name]
        if outcome.problems:
            if stop_at_first_error:
                for later in outcomes[outcome.index + 1 :]:
                    if later.ok:
                        later.refuse(NOT_PROCESSED)
            continue
        if key is None:
            appends.append(data)
        else:
            writes[key] = data
    return RowPlan(outcomes, writes, appends)
