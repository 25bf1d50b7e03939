"""Case-insensitive paths, in one place: a WSGI step before Flask routes the request.

SFMC answers ``/data/v1/customObjects`` and ``/data/v1/async/dataExtensions/...`` like their
lower-case spellings (docs/fidelity.md, PATH-1). Flask matches literally, so this step rewrites the
literal segments of a path to the spelling of the route they match, and leaves the variable
segments (Data Extension keys, primary-key values) exactly as the client sent them.
"""

from __future__ import annotations

import re
from functools import cached_property

_VARIABLE = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")


def _segment_pattern(segment: str) -> re.Pattern | None:
    """None for a literal segment; otherwise a pattern for a segment holding variables."""
    if "<" not in segment:
        return None
    parts, last = [], 0
    for match in _VARIABLE.finditer(segment):
        parts.append(re.escape(segment[last : match.start()]))
        parts.append(".+" if match.group(1) == "path" else "[^/]+")
        last = match.end()
    parts.append(re.escape(segment[last:]))
    return re.compile("".join(parts), re.IGNORECASE)


class _Route:
    def __init__(self, rule: str):
        self.segments = rule.strip("/").split("/")
        self.patterns = [_segment_pattern(s) for s in self.segments]
        self.tail = bool(self.segments) and "<path:" in self.segments[-1]

    def canonical(self, given: list[str]) -> list[str] | None:
        """``given`` with this route's literal segments spelled as the route spells them, or None."""
        if len(given) < len(self.segments) or (len(given) > len(self.segments) and not self.tail):
            return None
        out = []
        for i, (segment, pattern) in enumerate(zip(self.segments, self.patterns, strict=False)):
            last = i == len(self.segments) - 1
            value = "/".join(given[i:]) if last and self.tail else given[i]
            if pattern is None:
                if value.lower() != segment.lower():
                    return None
                out.append(segment)
            elif pattern.fullmatch(value):
                out.append(value)
            else:
                return None
        return out


class CaseInsensitivePaths:
    """WSGI wrapper: a path that matches a route only when case is ignored is rewritten to match it."""

    def __init__(self, wsgi_app, url_map):
        self.wsgi_app = wsgi_app
        self.url_map = url_map
        self._normalized: dict[str, str] = {}  # short paths seen -> their spelling (bounded)

    @cached_property
    def _index(self) -> tuple[dict[str, str], list[_Route]]:
        routes = [_Route(rule.rule) for rule in self.url_map.iter_rules() if rule.endpoint != "static"]
        literal = {s.lower(): s for r in routes for s, p in zip(r.segments, r.patterns, strict=True) if p is None}
        return literal, routes

    def normalize(self, path: str) -> str:
        literal, routes = self._index
        given = path.strip("/").split("/")
        # the common case costs one dict look-up per segment: every literal already in the route's spelling
        if all(literal.get(s.lower(), s) == s for s in given):
            return path
        for route in routes:
            found = route.canonical(given)
            if found is not None:
                return "/" + "/".join(found) + ("/" if path.endswith("/") and len(path) > 1 else "")
        return path

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        fixed = self._normalized.get(path)
        if fixed is None:
            fixed = self.normalize(path)  # a pure function of the path and the (fixed) rules: remembered
            if len(path) <= 256:
                if len(self._normalized) >= 4096:
                    self._normalized.clear()
                self._normalized[path] = fixed
        if fixed != path:
            environ["PATH_INFO"] = fixed
        return self.wsgi_app(environ, start_response)
