"""Scenario files: YAML or JSON documents that declare tenants, checked against a JSON Schema.

Errors name the file, the line and the field, e.g.
``demo.yaml:14: tenants[0].data_extensions[1].fields[2].type: 'Strng' is not one of [...]``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

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


def _line_of(node, path) -> int | None:
    """1-based line of the YAML node at ``path`` (keys and indexes), as deep as it exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            match = node.value[part]
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_scenario(text: str, source: str = "<scenario>") -> dict:
    """Parse and validate a scenario; raises ScenarioError with one line per problem."""
    try:
        node = yaml.compose(text)  # JSON is YAML, so one parser serves both and keeps line marks
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ScenarioError([f"{source}{line}: not valid YAML/JSON: {getattr(err, 'problem', err)}"]) from None
    validator = jsonschema.Draft202012Validator(scenario_schema())
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # point at the unexpected key itself, not at the object holding it
            allowed = set(error.schema.get("properties", {}))
            path += sorted(k for k in error.instance if k not in allowed)[:1]
        line = _line_of(node, path)
        problems.append(f"{source}{f':{line}' if line else ''}: {_where(error.absolute_path)}: {error.message}")
    if problems:
        raise ScenarioError(problems)
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
    problems.extend(_apply_faults(emulator, doc.get("faults") or []))
    if problems:
        raise ScenarioError(problems)
    return created


def _apply_faults(emulator, rules: list) -> list[str]:
    """Add the scenario's fault rules (each checked against the fault-rule JSON Schema)."""
    from .domain.faults import FaultRuleError

    problems = []
    for i, rule in enumerate(rules):
        try:
            emulator.faults.add(rule)
        except FaultRuleError as err:
            problems.extend(f"faults[{i}]: {p}" for p in err.problems)
    return problems
