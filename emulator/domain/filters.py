"""SFMC's ``$filter`` expressions for row reads, parsed into a small tree.

Grammar: ``expr := term (or term)*``, ``term := factor (and factor)*``,
``factor := '(' expr ')' | column op value`` with ``op`` one of ``eq``, ``ne``/``neq``. A column
name may be several words (``First Name eq 'Ann'``), or quoted with ``[...]`` or ``"..."``.
Values are ``'strings'`` (``''`` escapes a quote) or numbers. Comparison is case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|'(?P<str>(?:[^']|'')*)'|\[(?P<br>[^\]]+)\]|\"(?P<dq>[^\"]+)\""
    r"|(?P<num>[+-]?\d+(?:\.\d+)?)(?![\w])|(?P<word>[^\s()']+))"
)
OPERATORS = {"eq": "eq", "ne": "ne", "neq": "ne"}
# Limits (inferred; SFMC documents none): a filter a person writes stays far below them, and a tree
# within them is safe for every step after parsing (recursion in Python, SQLite's parser stack).
MAX_FILTER_LENGTH = 4000
MAX_TERMS = 40
MAX_DEPTH = 10


class FilterError(ValueError):
    pass


# Operators a parsed filter may carry. ``$filter`` (REST) produces ``eq`` and ``ne``; SOAP's
# SimpleFilterPart adds the rest (``values`` holds the operands of ``in`` and ``between``).
ALL_OPERATORS = ("eq", "ne", "gt", "lt", "ge", "le", "null", "notnull", "like", "in", "between")


@dataclass(frozen=True)
class Compare:
    column: str
    op: str
    value: str
    values: tuple[str, ...] = ()
    numeric: bool = False  # compare as numbers (Number and Decimal columns), not case-insensitive text


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Node
    right: Node


Node: TypeAlias = Compare | BoolOp
# a group name of _TOKEN, or "end" past the last token
TokenKind: TypeAlias = Literal["lp", "rp", "str", "br", "dq", "num", "word", "end"]
Token: TypeAlias = tuple[TokenKind, str]
_END: Token = ("end", "")


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos or m.lastgroup is None:
            raise FilterError(f"cannot read the filter at position {pos}: {text[pos : pos + 20]!r}")
        kind: TokenKind = m.lastgroup  # type: ignore[assignment]  # lastgroup names one of _TOKEN's groups
        value = m.group(kind)
        if kind == "str":
            value = value.replace("''", "'")
        out.append((kind, value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.terms = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i] if self.i < len(self.tokens) else _END

    def take(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def keyword(self, *words: str) -> str | None:
        kind, value = self.peek()
        if kind == "word" and value.lower() in words:
            self.i += 1
            return value.lower()
        return None

    def expr(self) -> Node:
        node = self.term()
        while self.keyword("or"):
            node = BoolOp("or", node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.keyword("and"):
            node = BoolOp("and", node, self.factor())
        return node

    def factor(self) -> Node:
        kind, _ = self.peek()
        if kind == "lp":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError(f"parentheses nest more than {MAX_DEPTH} deep")
            node = self.expr()
            self.depth -= 1
            if self.take()[0] != "rp":
                raise FilterError("missing ')'")
            return node
        words: list[str] = []
        while True:
            kind, value = self.peek()
            if kind in ("br", "dq") and not words:
                self.take()
                words.append(value)
                continue
            if kind == "word" and value.lower() not in OPERATORS:
                self.take()
                words.append(value)
                continue
            break
        if not words:
            raise FilterError("expected a column name")
        op = self.keyword(*OPERATORS)
        if op is None:
            raise FilterError(f"expected eq or ne after '{' '.join(words)}' (other operators are not supported)")
        kind, value = self.take()
        if kind not in ("str", "num"):
            raise FilterError(f"expected a quoted string or a number after '{op}'")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise FilterError(f"the filter has more than {MAX_TERMS} comparisons")
        return Compare(" ".join(words), OPERATORS[op], value)


def parse_filter(text: str) -> Node:
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"the filter has {len(text)} characters; at most {MAX_FILTER_LENGTH} are allowed")
    parser = _Parser(_tokens(text))
    node = parser.expr()
    if parser.i != len(parser.tokens):
        raise FilterError(f"unexpected {parser.peek()[1]!r} after a complete expression")
    return node


def columns_in(node: Node) -> list[str]:
    if isinstance(node, Compare):
        return [node.column]
    return columns_in(node.left) + columns_in(node.right)
