"""Fault rules: make SFMC misbehave on purpose, reproducibly.

A rule matches requests by tenant, method and path pattern (or async jobs by tenant and Data
Extension key) and says what goes wrong: an SFMC error answer, added latency, a dropped
connection, revoked or expired tokens, a stalled async job or rows failing with a deadlock.
It can be limited by count (``times``), chance (``probability``, with a seeded RNG so a run
repeats) and a window on the emulator clock (``after``/``until`` seconds after the rule was
added). Pure Python: the request chain in ``app.py`` applies what ``for_request`` decides, the
auth service asks ``token_refusal`` and the async worker asks ``for_async_job``.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict, cast

import jsonschema

from ..clock import Clock
from .safe_regex import MAX_SUBJECT, regex_problem, search

# kind -> (status, errorcode, message, Retry-After default) for the kinds that answer with an SFMC error
ERROR_PRESETS: dict[str, tuple[int, int, str, int | None]] = {
    "server_error": (500, 0, "An unexpected error occurred. Try again later.", None),
    "unavailable": (503, 50300, "Service Unavailable", 5),
    "blocked": (429, 50200, "Your requests are temporarily blocked.", None),
    "rows_not_saved": (400, 10006, "Unable to save rows for data extension ID {de_id}", None),
    "error": (500, 0, "An error occurred.", None),
}
REQUEST_KINDS = {*ERROR_PRESETS, "latency", "drop"}
TOKEN_KINDS = {"revoke_tokens", "expire_tokens"}
ASYNC_KINDS = {"async_stall", "async_fail_rows"}
KINDS = REQUEST_KINDS | TOKEN_KINDS | ASYNC_KINDS
DEADLOCK = (
    "Transaction (Process ID 57) was deadlocked on lock resources with another process and has been "
    "chosen as the deadlock victim. Rerun the transaction."
)

RULE_SCHEMA: dict[str, Any] = {  # a JSON Schema document
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Fault rule",
    "type": "object",
    "additionalProperties": False,
    "required": ["kind"],
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "kind": {"enum": sorted(KINDS)},
        "description": {"type": "string"},
        "tenant": {"type": ["string", "null"], "description": "tenant id; absent or null: every tenant"},
        "method": {"type": ["string", "null"], "pattern": "^[A-Za-z]+$"},
        "path": {"type": ["string", "null"], "minLength": 1, "description": "glob on the request path; * spans /"},
        "path_regex": {
            "type": ["string", "null"],
            "minLength": 1,
            "description": "regular expression (search) in paths of up to "
            f"{MAX_SUBJECT} characters; no nested or repeated groups, at most one unbounded repeat",
        },
        "data_extension": {
            "type": ["string", "null"],
            "minLength": 1,
            "description": "glob on the Data Extension key (async kinds)",
        },
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "errorcode": {"type": "integer"},
        "message": {"type": "string"},
        "retry_after": {"type": ["integer", "null"], "minimum": 0},
        "delay": {"type": "number", "minimum": 0, "maximum": 120, "description": "seconds of added latency"},
        "times": {"type": ["integer", "null"], "minimum": 1},
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "seed": {"type": "integer"},
        "after": {"type": "number", "minimum": 0},
        "until": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
}
_validator = jsonschema.Draft202012Validator(RULE_SCHEMA)


class RawRule(TypedDict, total=False):
    """A fault rule as given (JSON or a scenario file) once it passed RULE_SCHEMA."""

    id: str
    kind: Required[str]
    description: str
    tenant: str | None
    method: str | None
    path: str | None
    path_regex: str | None
    data_extension: str | None
    status: int
    errorcode: int
    message: str
    retry_after: int | None
    delay: float
    times: int | None
    probability: float
    seed: int
    after: float
    until: float | None


class FaultRuleError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class FaultRule:
    id: str
    kind: str
    created_at: float
    raw: RawRule
    tenant: str | None = None
    method: str | None = None
    path: str | None = None
    path_regex: re.Pattern[str] | None = None
    data_extension: str | None = None
    delay: float = 0.0
    times: int | None = None
    probability: float = 1.0
    after: float = 0.0
    until: float | None = None
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(0, self.times - self.fired)

    def in_window(self, now: float) -> bool:
        age = now - self.created_at
        return age >= self.after and (self.until is None or age < self.until)

    def matches(self, tenant_id: str | None, method: str | None, path: str | None, now: float) -> bool:
        if self.remaining == 0 or not self.in_window(now):
            return False
        if self.tenant is not None and self.tenant != tenant_id:
            return False
        if self.method and method and self.method != method.upper():
            return False
        if self.path and not (path is not None and fnmatch.fnmatchcase(path, self.path)):
            return False
        return not (self.path_regex and not (path is not None and search(self.path_regex, path)))

    def roll(self) -> bool:
        """Take one firing if the probability allows it (the caller holds the set's lock)."""
        if self.probability < 1.0 and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def answer(self) -> tuple[int, int, str, int | None]:
        status, errorcode, message, retry_after = ERROR_PRESETS[self.kind]
        raw = self.raw
        return (
            raw.get("status", status),
            raw.get("errorcode", errorcode),
            raw.get("message", message),
            raw.get("retry_after", retry_after),
        )

    def to_dict(self, now: float) -> dict[str, object]:
        return {
            **self.raw,
            "id": self.id,
            "kind": self.kind,
            "fired": self.fired,
            "remaining": self.remaining,
            "created_at": self.created_at,
            "active": self.remaining != 0 and (self.until is None or now - self.created_at < self.until),
        }


@dataclass(frozen=True)
class RequestFault:
    """What the request chain does: sleep ``delay`` seconds, then (if ``rule``) answer as it says."""

    delay: float = 0.0
    rule: FaultRule | None = None


@dataclass(frozen=True)
class AsyncFault:
    """What the async worker does with a job: ``stall`` (leave it pending) or ``fail_rows`` (every row errors)."""

    action: str
    rule_id: str
    message: str = DEADLOCK


def _validated(raw: object) -> RawRule:
    """``raw`` as a rule, or FaultRuleError with every problem found."""
    problems = []
    for error in sorted(_validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(map(str, error.absolute_path)) or "(rule)"
        problems.append(f"{where}: {error.message}")
    if problems:
        raise FaultRuleError(problems)
    rule = cast(RawRule, raw)  # RULE_SCHEMA admits only objects of RawRule's shape
    problems = _rule_problems(rule)
    if problems:
        raise FaultRuleError(problems)
    return rule


def _rule_problems(raw: RawRule) -> list[str]:
    """What RULE_SCHEMA cannot say: a compilable regex, latency with a delay, a window that is one."""
    problems = []
    if (regex := raw.get("path_regex")) and (problem := regex_problem(regex)):
        problems.append(f"path_regex: {problem}")
    if raw["kind"] == "latency" and not raw.get("delay"):
        problems.append("delay: a latency rule needs 'delay' (seconds) above 0")
    if raw["kind"] == "error" and "status" not in raw:
        problems.append("status: an 'error' rule needs the HTTP status to answer with")
    until = raw.get("until")
    if until is not None and until <= raw.get("after", 0):
        problems.append("until: must be later than 'after'")
    return problems


def check(raw: object) -> RawRule:
    """``raw`` as a rule, or FaultRuleError listing every problem of it."""
    return _validated(raw)


def new_rule(raw: RawRule, rule_id: str, created_at: float) -> FaultRule:
    """A rule from its checked JSON form, its id and when (emulator clock) it was added."""
    return FaultRule(
        id=rule_id,
        kind=raw["kind"],
        created_at=created_at,
        raw=raw.copy(),
        tenant=raw.get("tenant"),
        method=(raw.get("method") or "").upper() or None,
        path=raw.get("path"),
        path_regex=re.compile(regex) if (regex := raw.get("path_regex")) else None,
        data_extension=raw.get("data_extension"),
        delay=float(raw.get("delay", 0)),
        times=raw.get("times"),
        probability=float(raw.get("probability", 1.0)),
        after=float(raw.get("after", 0)),
        until=raw.get("until"),
        rng=random.Random(raw.get("seed", 0)),
    )


class FaultSet:
    """The rules in force, in the order they were added; thread-safe."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, given: object) -> FaultRule:
        raw = _validated(given)
        with self._lock:
            rule_id = raw.get("id") or f"fault-{next(self._ids)}"
            if any(r.id == rule_id for r in self._rules):
                raise FaultRuleError([f"id: a fault rule '{rule_id}' already exists"])
            rule = new_rule(raw, rule_id, self.clock.now())
            self._rules.append(rule)
        return rule

    @property
    def any_rules(self) -> bool:
        """Whether any rule is in force: with none, nothing can match and the request chain asks no more
        (read without the lock, as ``for_request`` reads it first: a rule added meanwhile applies from the
        next call on)."""
        return bool(self._rules)

    def _fire(self, rule: FaultRule) -> bool:
        """Take one firing of a matching rule (the caller holds the set's lock); a store-backed set
        counts firings in the database, so a counted rule fires N times across processes."""
        return rule.roll()

    def list(self) -> list[dict[str, object]]:
        now = self.clock.now()
        with self._lock:
            return [r.to_dict(now) for r in self._rules]

    def get(self, rule_id: str) -> dict[str, object] | None:
        now = self.clock.now()
        with self._lock:
            return next((r.to_dict(now) for r in self._rules if r.id == rule_id), None)

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) < before

    def clear(self, tenant_id: str | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if tenant_id is not None and r.tenant != tenant_id]
            return before - len(self._rules)

    def for_request(self, tenant_id: str | None, method: str, path: str, *, token_call: bool = False) -> RequestFault:
        """Latency rules add up; the first answering rule (error or drop) decides the answer.

        Token calls go to SFMC's separate auth host, so only rules whose path pattern names them apply.
        """
        if not self._rules:
            return RequestFault()
        now, delay = self.clock.now(), 0.0
        with self._lock:
            for rule in self._rules:
                if rule.kind not in REQUEST_KINDS or not rule.matches(tenant_id, method, path, now):
                    continue
                if token_call and not (rule.path or rule.path_regex):
                    continue
                if not self._fire(rule):
                    continue
                delay += rule.delay
                if rule.kind != "latency":
                    return RequestFault(delay, rule)
        return RequestFault(delay)

    def token_refusal(self, tenant_id: str, issued_at: float) -> str | None:
        """``revoked`` or ``expired`` when a rule makes a token issued at ``issued_at`` stop working.

        Only tokens issued before the rule was added are refused, so a client that fetches a new
        token recovers, as it would after a real revocation or expiry.
        """
        if not self._rules:
            return None
        now = self.clock.now()
        with self._lock:
            for rule in self._rules:
                if (
                    rule.kind in TOKEN_KINDS
                    and issued_at <= rule.created_at
                    and rule.matches(tenant_id, None, None, now)
                    and self._fire(rule)
                ):
                    return "expired" if rule.kind == "expire_tokens" else "revoked"
        return None

    def for_async_job(self, tenant_id: str, de_key: str) -> AsyncFault | None:
        """The async worker's hook: call once per job before processing it.

        ``stall``: leave the job in its current state (ask again next time round); ``fail_rows``:
        answer every row of the job with ``message`` (a deadlock by default). None: process normally.
        """
        if not self._rules:
            return None
        now = self.clock.now()
        with self._lock:
            for rule in self._rules:
                if rule.kind not in ASYNC_KINDS or not rule.matches(tenant_id, None, None, now):
                    continue
                if rule.data_extension and not fnmatch.fnmatchcase(de_key.lower(), rule.data_extension.lower()):
                    continue
                if self._fire(rule):
                    if rule.kind == "async_stall":
                        return AsyncFault("stall", rule.id, "")
                    return AsyncFault("fail_rows", rule.id, rule.raw.get("message", DEADLOCK))
        return None
