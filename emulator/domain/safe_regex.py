"""Regular expressions that a crafted request path cannot make slow: checked once, when a rule is added.

A fault rule's ``path_regex`` is searched on every request the rule could match, while the request
waits. Python's backtracking engine takes exponential time on nested quantifiers (``(a+)+$``) or a
quantified alternation (``(a|aa)*$``), and polynomial time on several unbounded repeats in a row
(``.*a.*b.*c``). A pattern is accepted only without those shapes (at most one unbounded repeat, no
repeat inside a repeat, no alternation or group inside a repeat, no backreferences or lookarounds),
and it is searched only in paths of up to ``MAX_SUBJECT`` characters: the worst search is then
quadratic in a bounded length. Plain paths, anchors, alternation outside repeats and character
classes (``^/(hub|data)/v1/[^/]+/rowset$``) all pass.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

_parser: Any = importlib.import_module("re._parser")  # the standard library's own pattern parser
_constants: Any = importlib.import_module("re._constants")

MAX_SUBJECT = 512  # longer paths never match a path_regex (SFMC paths are far shorter)
MAX_PATTERN = 512

_REPEATS = {_constants.MAX_REPEAT, _constants.MIN_REPEAT, getattr(_constants, "POSSESSIVE_REPEAT", None)} - {None}
_ATOMIC = getattr(_constants, "ATOMIC_GROUP", None)
_REFUSED = {
    _constants.GROUPREF: "backreferences",
    _constants.GROUPREF_EXISTS: "conditional groups",
    _constants.ASSERT: "lookarounds",
    _constants.ASSERT_NOT: "lookarounds",
}


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` could take more than quadratic time on a crafted path (or does not compile), or None."""
    if len(pattern) > MAX_PATTERN:
        return f"use at most {MAX_PATTERN} characters"
    try:
        re.compile(pattern)
        tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        return f"not a valid regular expression: {err}"
    unbounded = 0
    # (node list, inside a repeat)
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        nodes, in_repeat = stack.pop()
        for op, av in nodes:
            if op in _REFUSED:
                return f"{_REFUSED[op]} are not supported"
            if op in _REPEATS:
                _low, high, body = av
                if high == _constants.MAXREPEAT:
                    unbounded += 1
                if high > 1:
                    if in_repeat:
                        return "a repeat inside a repeat can take exponential time; write it with one"
                    if any(sub_op in (_constants.SUBPATTERN, _constants.BRANCH) for sub_op, _ in body):
                        return "a repeated group can take exponential time; repeat single characters or classes"
                stack.append((body, in_repeat or high > 1))
            elif op == _constants.SUBPATTERN:
                stack.append((av[-1], in_repeat))
            elif op == _constants.BRANCH:
                stack.extend((branch, in_repeat) for branch in av[1])
            elif _ATOMIC is not None and op == _ATOMIC:
                stack.append((av, in_repeat))
    if unbounded > 1:
        return "more than one unbounded repeat (*, +, {n,}) can take polynomial time; use one"
    return None


def search(pattern: re.Pattern[str], subject: str) -> bool:
    """``pattern.search(subject)`` for a pattern ``regex_problem`` passed; longer subjects than
    ``MAX_SUBJECT`` never match."""
    return len(subject) <= MAX_SUBJECT and pattern.search(subject) is not None
