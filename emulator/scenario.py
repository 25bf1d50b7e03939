"""Scenario files: YAML or JSON documents that declare tenants, checked against a JSON Schema.

Errors name the file, the line and the field, e.g.
``demo.yaml:14: tenants[0].data_extensions[1].fields[2].type: 'Strng' is not one of [...]``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .documents import load_validated
from .domain.problems import Problems

DEMO = "demo.yaml"


class ScenarioError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@lru_cache(maxsize=1)
def scenario_schema() -> dict:
    return json.loads(resources.files("emulator").joinpath("schemas/scenario.schema.json").read_text())


def demo_scenario_path() -> Path:
    return Path(str(resources.files("emulator").joinpath(f"scenarios/{DEMO}")))


def parse_scenario(text: str, source: str = "<scenario>") -> dict:
    """Parse and validate a scenario; raises ScenarioError with one line per problem."""
    try:
        doc, _node = load_validated(text, scenario_schema(), source)
    except Problems as err:
        raise ScenarioError(err.problems) from None
    return doc


def load_scenario_file(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError([f"{path}: cannot read the scenario file: {err.strerror}"]) from None
    return parse_scenario(text, str(path))


def apply_scenario(emulator, doc: dict, *, replace: bool = True) -> list[str]:
    """Create each tenant of a validated scenario; returns their ids.

    With ``replace`` an existing tenant of the same id is recreated empty; without it, it is kept
    as stored (so restarting on the same database file keeps every row).
    """
    from .domain.tenants import TenantError

    created, problems = [], []
    for i, tenant in enumerate(doc.get("tenants", [])):
        if not replace and tenant.get("id") and emulator.tenant(tenant["id"]) is not None:
            continue
        try:
            created.append(emulator.create_tenant(tenant, replace=replace).id)
        except TenantError as err:
            problems.extend(f"tenants[{i}]: {p}" for p in err.problems)
    problems.extend(_apply_faults(emulator, doc.get("faults") or [], keep_stored=not replace))
    if problems:
        raise ScenarioError(problems)
    return created


def _apply_faults(emulator, rules: list, *, keep_stored: bool = False) -> list[str]:
    """Add the scenario's fault rules (each checked against the fault-rule JSON Schema).

    ``keep_stored``: on a store that keeps fault rules (PostgreSQL), a rule already there as the
    scenario gives it is kept, not added again (a restart, or another process, applied it)."""
    from .domain.faults import FaultRuleError

    problems = []
    stored = emulator.faults.list() if keep_stored and emulator.store.shared else []
    for i, rule in enumerate(rules):
        if isinstance(rule, dict) and any(all(item.get(k) == v for k, v in rule.items()) for item in stored):
            continue
        try:
            emulator.faults.add(rule)
        except FaultRuleError as err:
            problems.extend(f"faults[{i}]: {p}" for p in err.problems)
    return problems
