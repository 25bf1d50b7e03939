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
from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import Headers
from werkzeug.utils import get_content_type

# orjson output that json.dumps would spell differently: a float below 1e-4 (0.0000x, or an exponent
# such as e-6 where json.dumps writes e-06); a string's text can match too, which only costs speed
_SPELLED_DIFFERENTLY = re.compile(rb"\de-\d|\d\.0000")
# the two halves' literal parts, which ``re`` finds with a fast substring search (the alternation above
# tries every position: about 50 us over a 50-row rowset's 11 KB echo, against 8 us for these two)
_EXPONENT = re.compile(rb"e-\d")
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def compact_json(obj: object) -> bytes | None:
    """``obj`` as ``json.dumps(obj, separators=(",", ":"))`` writes it, or None where only it can."""
    try:
        out = orjson.dumps(obj, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a type, key or integer orjson does not write as json does
        return None
    if not out.isascii() or b"\x7f" in out or spelled_differently(out):
        return None
    return out


def spelled_differently(out: bytes) -> bool:
    """Whether ``_SPELLED_DIFFERENTLY`` matches ``out``: only where ``.0000`` or ``e-`` and a digit stand."""
    return (b".0000" in out or _EXPONENT.search(out) is not None) and _SPELLED_DIFFERENTLY.search(out) is not None


class JSONAnswer(Response):
    """A JSON answer as ``Response(body, status=status, mimetype=mimetype)`` builds it and sends it: the same
    status line, headers in the same order and body bytes, with less work per answer.

    Built with its two headers at once (werkzeug's constructor goes through its argument handling,
    the content type's charset rule and ``set_data``). Sent without werkzeug's per-answer checks where
    they change nothing: with its Content-Length set, no Location or Content-Location header, a status
    that has a body, no close callbacks, a body that is a list of bytes and a request other than HEAD,
    werkzeug sends a copy of the headers and the bytes as they are; any other answer (a hook may
    have changed it) is sent by werkzeug's own code."""

    def __init__(self, response: bytes, status: int = 200, mimetype: str = "application/json"):
        content_type = get_content_type(mimetype, "utf-8")  # werkzeug's rule: a charset for text types
        self.headers = headers = Headers()  # two add()s: Headers(pairs) takes a slower, general path
        headers.add("Content-Type", content_type)
        headers.add("Content-Length", str(len(response)))
        self.status = status
        self.direct_passthrough = False
        self._on_close = []
        self.response = [response]

    def __call__(self, environ, start_response):
        body = self.response
        status = self.status_code
        if (
            status >= 200
            and status not in (204, 304)
            and environ["REQUEST_METHOD"] != "HEAD"
            and not self._on_close
            and not self.direct_passthrough
            and body.__class__ is list
            and all(part.__class__ is bytes for part in body)
        ):
            sized = False
            for key, _value in self.headers:
                lowered = key.lower()
                if lowered == "content-length":
                    sized = True
                elif lowered in ("location", "content-location"):
                    break
            else:
                if sized:
                    start_response(self.status, self.headers.to_wsgi_list())
                    return body
        return super().__call__(environ, start_response)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's default provider; compact answers (``jsonify`` outside debug mode) written by orjson."""

    answer_class: type[Response] = JSONAnswer  # what ``answer`` builds (werkzeug's ``Response`` sends the same)

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
        if self._app.response_class is not Response:
            return self._app.response_class(body + b"\n", status=status, mimetype=self.mimetype)
        return self.answer_class(body + b"\n", status=status, mimetype=self.mimetype)
