"""The Flask app class of the emulator: Flask's routing and dispatch with what they work out per request
remembered, so a client repeating its calls does not pay for it again. Answers are unchanged.

- The URL map remembers which rule a path matched: werkzeug's matcher walks a state machine over the
  emulator's 60-odd rules on every request (about 4 us for a rowset upsert), for a result that depends
  only on the path, the method and the rule set. A match is kept (bounded, short paths only) and handed
  out as a copy; misses, redirects and refusals are not kept, so they go through werkzeug every time.
- Whether a view or hook is a coroutine function is asked once per function, not on every call.

The routes themselves are declared once, in the API modules (``routes.py``); nothing here lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.routing import Map, Rule
from werkzeug.routing.matcher import StateMachineMatcher

MAX_REMEMBERED = 4096  # distinct (path, method) matches kept; the table starts over when full
MAX_PATH = 256  # longer paths are matched every time (they name keys and primary-key values)


class RememberingMatcher(StateMachineMatcher):
    """werkzeug's matcher, remembering the rule and values each (host part, path, method) matched."""

    def __init__(self, merge_slashes: bool):
        super().__init__(merge_slashes)
        self._matched: dict[tuple[str, str, str, bool], tuple[Rule, dict[str, Any]]] = {}

    def add(self, rule: Rule) -> None:
        self._matched.clear()
        super().add(rule)

    def update(self) -> None:
        self._matched.clear()
        super().update()

    def match(self, domain: str, path: str, method: str, websocket: bool) -> tuple[Rule, dict[str, Any]]:
        key = (domain, path, method, websocket)
        found = self._matched.get(key)
        if found is not None:
            return found[0], dict(found[1])  # a copy: the caller owns its view arguments
        rule, values = super().match(domain, path, method, websocket)  # raises for anything but a match
        if len(path) <= MAX_PATH:
            if len(self._matched) >= MAX_REMEMBERED:
                self._matched.clear()
            self._matched[key] = (rule, dict(values))
        return rule, values


class RememberingMap(Map):
    """A URL map whose matcher remembers its matches (``RememberingMatcher``)."""

    def __init__(self, rules: Any = None, *args: Any, **kwargs: Any):
        super().__init__(None, *args, **kwargs)
        self._matcher = RememberingMatcher(self.merge_slashes)  # merge_slashes: a property of the matcher
        for rule_factory in rules or ():
            self.add(rule_factory)


class EmulatorFlask(Flask):
    url_map_class = RememberingMap

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sync_functions: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, asked once per function: views and hooks are plain functions here."""
        if func in self._sync_functions:
            return func
        found = super().ensure_sync(func)
        if found is func and len(self._sync_functions) < 1024:
            self._sync_functions.add(func)
        return found
