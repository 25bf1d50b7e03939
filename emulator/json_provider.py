"""Flask's JSON answers written by orjson, byte for byte what ``json.dumps`` writes.

Every JSON answer goes through ``jsonify``; Flask's default provider writes it with ``json.dumps``
(compact separators, ``ensure_ascii``). orjson writes the same JSON several times faster, with three
differences in spelling: non-ASCII text and DEL (``\\x7f``) as raw UTF-8 where ``json.dumps`` writes
``\\u`` escapes, and small floats (``1e-05`` against ``0.00001`` or ``1e-5``). An answer whose orjson
bytes could hold one of them, or that orjson cannot write at all (an integer beyond 64 bits, a key
that is not a string, a type only Flask's ``default`` knows), is written by ``json.dumps`` instead, so
clients see the same bytes either way (``tests/emulator/test_json_provider.py`` holds the two to it).
"""

from __future__ import annotations

import re

import orjson
from flask.json.provider import DefaultJSONProvider

# orjson output that json.dumps would spell differently: a float below 1e-4 (0.0000x, or an exponent
# such as e-6 where json.dumps writes e-06); a string's text can match too, which only costs speed
_SPELLED_DIFFERENTLY = re.compile(rb"\de-\d|\d\.0000")
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def compact_json(obj: object) -> bytes | None:
    """``obj`` as ``json.dumps(obj, separators=(",", ":"))`` writes it, or None where only it can."""
    try:
        out = orjson.dumps(obj, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a type, key or integer orjson does not write as json does
        return None
    if not out.isascii() or b"\x7f" in out or _SPELLED_DIFFERENTLY.search(out):
        return None
    return out


class FastJSONProvider(DefaultJSONProvider):
    """Flask's default provider; compact answers (``jsonify`` outside debug mode) written by orjson."""

    def response(self, *args, **kwargs):
        return self.answer(self._prepare_response_obj(args, kwargs))

    def answer(self, obj: object, status: int = 200):
        """``jsonify(obj)`` answering ``status``: the same bytes and headers, the response built at once
        (no argument handling, no ``(response, status)`` pair for Flask to take apart)."""
        compact = not ((self.compact is None and self._app.debug) or self.compact is False)
        body = compact_json(obj) if compact and self.ensure_ascii and not self.sort_keys else None
        if body is None:
            response = super().response(obj)
            response.status_code = status
            return response
        return self._app.response_class(body + b"\n", status=status, mimetype=self.mimetype)
