"""Case files: YAML documents of conformance cases, checked against ``schemas/case.schema.json``.

Errors name the file, the line and the field, as the emulator's scenario files do:
``identify.yaml:14: cases[2].expect.rows.identify: {} should be non-empty``.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from emulator.documents import line_of, load_validated
from emulator.domain.problems import Problems

from .rules import ALL_RULES


class CaseError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Case:
    id: str
    rules: tuple[str, ...]
    title: str
    section: str
    settings: dict
    tenant: dict
    faults: list
    events: list
    expect: dict
    source: str  # file:line
    concurrency: int = 1
    timeout: float = 60.0
    raw: dict = field(default_factory=dict, repr=False, compare=False)


@lru_cache(maxsize=1)
def case_schema() -> dict:
    return json.loads(Path(__file__).with_name("schemas").joinpath("case.schema.json").read_text(encoding="utf-8"))


def bundled_cases_dir() -> Path:
    return Path(__file__).with_name("cases")


def deep_merge(base: dict, extra: dict) -> dict:
    """``base`` updated by ``extra``; mappings in both merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_cases(text: str, source: str = "<cases>") -> list[Case]:
    """Parse and validate one case file; raises CaseError with one line per problem."""
    try:
        doc, node = load_validated(text, case_schema(), source)
    except Problems as err:
        raise CaseError(err.problems) from None
    problems = []
    defaults = doc.get("defaults") or {}
    cases = []
    for i, raw in enumerate(doc["cases"]):
        where = f"{source}:{line_of(node, ['cases', i])}"
        rules = raw["rule"] if isinstance(raw["rule"], list) else [raw["rule"]]
        unknown = [r for r in rules if r not in ALL_RULES]
        if unknown:
            line = line_of(node, ["cases", i, "rule"])
            problems.append(
                f"{source}:{line}: cases[{i}].rule: unknown rule id(s) {', '.join(unknown)}; "
                f"known: {', '.join(ALL_RULES)}"
            )
            continue
        merged = deep_merge({k: v for k, v in defaults.items() if k != "faults"}, raw)
        cases.append(
            Case(
                id=raw["id"],
                rules=tuple(rules),
                title=raw["title"],
                section=merged.get("section", ""),
                settings=merged.get("settings") or {},
                tenant=merged.get("tenant") or {},
                faults=list(defaults.get("faults") or []) + list(raw.get("faults") or []),
                events=raw["events"],
                expect=raw["expect"],
                source=where,
                concurrency=raw.get("concurrency", 1),
                timeout=float(raw.get("timeout", 60)),
                raw=raw,
            )
        )
    if problems:
        raise CaseError(problems)
    return cases


def load_cases(directory: str | Path | None = None, pattern: str | None = None) -> list[Case]:
    """Every case of every ``*.yaml`` file in ``directory`` (default: the bundled library), ids unique.

    ``pattern`` keeps the cases whose id, rule or title contains it (or matches it as a glob).
    """
    directory = Path(directory) if directory else bundled_cases_dir()
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else [directory]
    if not files:
        raise CaseError([f"{directory}: no *.yaml case files"])
    cases, problems, seen = [], [], {}
    for path in files:
        try:
            found = parse_cases(path.read_text(encoding="utf-8"), path.name)
        except CaseError as err:
            problems.extend(err.problems)
            continue
        for case in found:
            if case.id in seen:
                problems.append(f"{case.source}: case id '{case.id}' is also used at {seen[case.id]}")
            seen[case.id] = case.source
            cases.append(case)
    if problems:
        raise CaseError(problems)
    return [c for c in cases if matches(c, pattern)] if pattern else cases


def matches(case: Case, pattern: str) -> bool:
    haystacks = [case.id, case.title, *case.rules]
    lowered = pattern.lower()
    return any(lowered in h.lower() or fnmatch.fnmatch(h.lower(), lowered) for h in haystacks)
