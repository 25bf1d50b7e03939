"""Request bodies and stored async items are read by orjson only where it reads what ``json.loads`` reads.

The body parser's own verdicts (NaN and numbers beyond a double refused, a lone surrogate escape
reported, an integer beyond 64 bits kept exact) must not change; so must no value, type or key order.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.api.common import _parse_body
from emulator.json_reader import has_long_digit_run, loads

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # non-ASCII, control characters and lone surrogates included
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)
# number spellings json.dumps never writes: exponents, long fractions, beyond a double, -0
NUMBER_TEXT = st.from_regex(r"\A-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,22})?([eE][+-]?[0-9]{1,3})?\Z")


def same(a, b) -> bool:
    """Equal values of equal types all the way down (1 == 1.0 == True for ``==`` alone), keys in order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b
    return a == b


def verdict(read, data):
    try:
        return True, read(data)
    except (ValueError, RecursionError) as err:
        return False, type(err)


def assert_reads_alike(data: bytes) -> None:
    fast, slow = verdict(lambda d: loads(d, _parse_body), data), verdict(_parse_body, data)
    assert fast[0] == slow[0], data
    assert same(fast[1], slow[1]) if fast[0] else True, data


@settings(max_examples=300)
@given(value=VALUES, ascii_only=st.booleans())
def test_generated_bodies_read_alike(value, ascii_only):
    assert_reads_alike(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))


@settings(max_examples=300)
@given(number=NUMBER_TEXT)
def test_number_spellings_read_alike(number):
    assert_reads_alike(f'{{"n": {number}, "items": [{number}]}}'.encode())


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, in the first one's place
        b"[NaN]",
        b"[Infinity]",
        b"[1e999]",
        b"[-1e400]",
        b"[1e-400]",
        b"[18446744073709551615, 18446744073709551616, -9223372036854775809, 12345678901234567890123]",
        b'["\\ud800", "\\ud83d\\ude00"]',
        b"\xef\xbb\xbf[1]",  # a byte-order mark
        '[1, "\u00e9"]'.encode("utf-16"),
        b'["\xed\xa0\x80"]',  # an encoded surrogate: invalid UTF-8
        b'["\xff"]',
        b"[" * 5000 + b"]" * 5000,
        b"[1] x",
        b"  [1]\n",
        b'"\x01"',
        b"",
    ],
)
def test_edge_texts_read_alike(data):
    assert_reads_alike(data)


def test_long_digit_runs_are_found_anywhere():
    assert has_long_digit_run(b'{"n": 1234567890123456789}')
    assert has_long_digit_run(b'["x0000000000000000000"]')
    assert not has_long_digit_run(b'{"n": 123456789012345678, "m": 123456789012345678}')
    assert loads(b"[12345678901234567890123]") == [12345678901234567890123]
    assert loads(b'[1.5, "text"]') == [1.5, "text"]
