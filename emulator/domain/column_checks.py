"""Whole-column fast checks for the bulk path: a column of values that plainly pass, checked at once.

``column_check(field, checks)`` gives a function that takes every value of one column (one per row)
and returns their stored forms, or None when any value is not plainly fine: empty, of an unusual
type, or refused. None sends the rows to the one per-row validator (``domain/rows.py``
``prepare_row``), which decides and words every refusal, so these checks never answer anything the
per-row rules would not. A column check only ever agrees with ``checks[field.type](field, value)``
on values that are not empty; the tests hold them to it on generated values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

from .fields import (
    _EMAIL,
    _ISO_DATE,
    _PATTERNS,
    CHECKS,
    DEFAULT_DECIMAL,
    DEFAULT_LENGTH,
    NUMBER_RANGE,
    FieldSpec,
    ValueProblem,
)

Values = Sequence[Any]  # one column's values, one per row, as sent
ColumnCheck = Callable[[Values], list[str] | None]
Check = Callable[[FieldSpec, Any], str]  # a column type's value rule (fields.CHECKS)
_BOOLEAN_TEXT = {True: "True", False: "False"}
_JSON_SCALARS = {str, int, float, bool, dict, list}  # what a JSON body holds besides null
_str_strip = str.strip
_SAMPLE = 512  # a column of at least this many values is looked at for repeats (see _repeated)
_REPEATS = 4


def _types(values: Values) -> set[type]:
    return set(map(type, values))


def _repeated(values: Values) -> dict[str, str] | None:
    """Each distinct value of a column of text with its form without surrounding white space, when the
    column repeats its values (at most one distinct value in ``_REPEATS`` among its first ``_SAMPLE``):
    a locale, a date or a country checked once per distinct value instead of once per row. None otherwise."""
    if len(values) < _SAMPLE or len(set(values[:_SAMPLE])) * _REPEATS > _SAMPLE:
        return None
    return {value: _str_strip(value) for value in set(values)}


def _spread(values: Values, forms: dict[str, str]) -> list[str]:
    """The stored form of every value of a column from the forms of its distinct values (``_repeated``)."""
    if all(map(str.__eq__, forms, forms.values())):
        return list(values)  # nothing to strip: stored as sent
    return list(map(forms.__getitem__, values))


def _all_match(pattern: re.Pattern[str], shapes: bytes, texts: list[str]) -> bool:
    """``all(map(pattern.match, texts))``, each distinct shape of text matched once. ``shapes`` (a
    ``bytes.translate`` table) writes each ASCII character as one the pattern cannot tell from it, so an
    ASCII text and its shape match it or not alike, and a column's texts come in a few shapes (0.3-0.4 us
    a match otherwise). The texts are joined by NUL, which the table keeps and none of them may hold
    (else, or with non-ASCII text, value by value)."""
    joined = "\x00".join(texts)
    if joined.isascii() and joined.count("\x00") == len(texts) - 1:
        found = set(joined.encode().translate(shapes).split(b"\x00"))
        return all(pattern.match(shape.decode()) for shape in found)
    return all(map(pattern.match, texts))


# the ISO date pattern reads a digit only through ``\d``, which for ASCII text is 0-9: every digit as 0
# (a client's timestamps then come in one shape or a few)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _all_iso_dates(texts: list[str]) -> bool:
    return _all_match(_ISO_DATE, _DIGITS_AS_ZERO, texts)


# every ASCII character as the email pattern tells it apart: ``@``, ``.``, each white space character (``\s``;
# ``$`` also matches before a final newline) and NUL (the separator) as themselves, any other as ``a``
# (``[^@\s]`` and no dot, like ``a``)
_EMAIL_SHAPE = (
    bytes(c if chr(c) in "@.\x00" or re.fullmatch(r"\s", chr(c)) else ord("a") for c in range(128)) + b"a" * 128
)


def _all_emails(texts: list[str]) -> bool:
    return _all_match(_EMAIL, _EMAIL_SHAPE, texts)


def _all_text(values: Values) -> bool:
    """Every value a str with something in it besides white space (so none is empty)."""
    return _types(values) == {str} and all(map(_str_strip, values))


def column_check(field: FieldSpec, checks: Mapping[str, Check]) -> ColumnCheck:
    """The column check for ``field`` under ``checks`` (CHECKS, or the one accepting SFMC's date notations)."""
    check = checks[field.type]
    kind = field.type
    if kind == "Text" and check is CHECKS["Text"]:
        return _text_column(field.length or DEFAULT_LENGTH["Text"], check, field)
    if kind in _PATTERNS and check is CHECKS[kind]:
        return _patterned_column(_PATTERNS[kind][0], field.length or DEFAULT_LENGTH[kind], check, field)
    if kind == "Number" and check is CHECKS["Number"]:
        return _number_column(check, field)
    if kind == "Decimal" and check is CHECKS["Decimal"]:
        return _decimal_column(field, check)
    if kind == "Date" and check is CHECKS["Date"]:
        return _date_column(check, field)
    if kind == "Boolean" and check is CHECKS["Boolean"]:
        return _boolean_column(check, field)
    return _each(check, field)


def _each(check: Check, field: FieldSpec) -> ColumnCheck:
    """Any column: no value empty, then the type's own check of each value."""

    def run(values: Values) -> list[str] | None:
        types = _types(values)
        if not types <= _JSON_SCALARS or (str in types and not all(_str_strip(v) for v in values if type(v) is str)):
            return None  # an empty value (None, blank text) or an unusual type: the per-row rules decide
        try:
            return list(map(check, repeat(field, len(values)), values))
        except ValueProblem:
            return None

    return run


def _text_column(limit: int, check: Check, field: FieldSpec) -> ColumnCheck:
    each = _each(check, field)

    def run(values: Values) -> list[str] | None:
        if _all_text(values) and max(map(len, values)) <= limit:
            return list(values)  # stored as sent
        return each(values)

    return run


def _patterned_column(pattern: re.Pattern[str], limit: int, check: Check, field: FieldSpec) -> ColumnCheck:
    each = _each(check, field)
    all_match = _all_emails if pattern is _EMAIL else lambda texts: all(map(pattern.match, texts))

    def run(values: Values) -> list[str] | None:
        if _types(values) != {str}:
            return each(values)
        forms = _repeated(values)
        texts = list(map(_str_strip, values)) if forms is None else list(forms.values())
        if all(texts) and max(map(len, texts)) <= limit and all_match(texts):
            return texts if forms is None else _spread(values, forms)  # stored without surrounding white space
        return each(values)

    return run


def _number_column(check: Check, field: FieldSpec) -> ColumnCheck:
    low, high = NUMBER_RANGE
    each = _each(check, field)

    def run(values: Values) -> list[str] | None:
        if _types(values) == {int} and low <= min(values) and max(values) <= high:
            return list(map(str, values))
        return each(values)

    return run


def _decimal_column(field: FieldSpec, check: Check) -> ColumnCheck:
    scale = field.scale if field.scale is not None else DEFAULT_DECIMAL[1]
    whole_digits = (field.length or DEFAULT_DECIMAL[0]) - scale
    each = _each(check, field)
    if scale == 0 or whole_digits <= 0:
        return each
    # fields._decimal's fast path: a plain number with at most ``scale`` decimals and at most
    # ``whole_digits`` integer digits is stored as written, its decimals padded with zeros
    plain = re.compile(rf"-?(?:0|[1-9][0-9]{{0,{whole_digits - 1}}})(?:\.[0-9]{{0,{scale}}})?").fullmatch
    zeros = ["0" * n for n in range(scale + 1)]
    # floats, a whole column at once: written with ``scale`` decimals, a float that reads back as itself
    # is one whose repr has at most ``scale`` decimals, and both spell it alike once padded, while its
    # digits (whole and decimal, at most 15) are all a double holds exactly; and no such repr is in
    # exponent form (below 1e-4, a value written with at most 4 decimals reads back as 0.0, or is 0.0)
    fixed = f"%.{scale}f".__mod__ if scale <= 4 else None
    limit = min(10.0**whole_digits, 10.0 ** (15 - scale))

    def run(values: Values) -> list[str] | None:
        types = _types(values)
        if fixed is not None and types == {float}:
            written = list(map(fixed, values))
            if list(map(float, written)) == list(values) and max(map(abs, values)) < limit:
                return written
            return each(values)
        if types == {str}:
            texts: Sequence[str] = values
        elif types <= {float, int}:
            texts = list(map(repr, values))
        else:
            return each(values)
        if not all(map(plain, texts)):
            return each(values)
        dotted = [text if "." in text else text + "." for text in texts]
        return [text + zeros[scale - len(text) + text.index(".") + 1] for text in dotted]

    return run


def _date_column(check: Check, field: FieldSpec) -> ColumnCheck:
    each = _each(check, field)

    def run(values: Values) -> list[str] | None:
        if _types(values) != {str}:
            return each(values)
        forms = _repeated(values)
        texts = list(map(_str_strip, values)) if forms is None else list(forms.values())
        if not all(texts) or not _all_iso_dates(texts):
            return each(values)
        try:
            if "Z" in "".join(texts):  # any text holding a Z
                for text in texts:
                    datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                list(map(datetime.fromisoformat, texts))
        except ValueError:
            return each(values)
        return texts if forms is None else _spread(values, forms)  # stored without surrounding white space

    return run


def _boolean_column(check: Check, field: FieldSpec) -> ColumnCheck:
    each = _each(check, field)

    def run(values: Values) -> list[str] | None:
        if _types(values) == {bool}:
            return list(map(_BOOLEAN_TEXT.__getitem__, values))
        return each(values)

    return run
