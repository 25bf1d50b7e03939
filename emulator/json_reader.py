"""JSON text read by orjson where it gives exactly what ``json.loads`` gives, else by ``json.loads``.

orjson reads JSON several times faster than the standard library and agrees with it on every text it
accepts, with one exception: an integer beyond 64 bits, which orjson reads as a float. So a text
holding a run of 19 or more digits (such an integer, or only a long fraction or a long digit string)
is read by ``json.loads``, and so is every text orjson refuses (NaN, a number beyond a double, a lone
surrogate escape, UTF-16 or a byte-order mark, invalid UTF-8, nesting deeper than orjson allows), so
the caller's own ``json.loads`` decides those exactly as before. ``tests/emulator/test_json_reader.py``
holds the two to the same values and the same verdicts on generated texts.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import orjson

_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def has_long_digit_run(data: bytes) -> bool:
    """Whether ``data`` holds 19 or more ASCII digits in a row (a byte scan, about 1 ms per MB)."""
    return _LONG_RUN in data.translate(_DIGITS_AS_ZERO)


def loads(data: bytes | str, fallback: Callable[[bytes | str], object] = json.loads) -> object:
    """``fallback(data)``'s value (``json.loads`` with the caller's hooks), read by orjson where it is the same.

    ``fallback`` must read numbers as ``json.loads`` does where they are finite doubles and integers
    (its hooks may refuse others): its errors are the caller's to catch, as before.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not has_long_digit_run(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return fallback(data)
