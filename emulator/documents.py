"""YAML/JSON documents checked against a JSON Schema, with problems that name the line and the field.

Scenario files and conformance case files both come through here, so a user sees one style of
error everywhere: ``demo.yaml:14: tenants[0].data_extensions[1].fields[2].type: 'Strng' is not one of ...``.
"""

from __future__ import annotations

import jsonschema
import yaml

from .domain.problems import Problems


def line_of(node, path) -> int | None:
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


def where(path) -> str:
    """``tenants[0].settings`` for the path ``["tenants", 0, "settings"]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


MAX_FLOW_DEPTH = 64  # PyYAML's scanner takes time quadratic in the nesting of [ and {: 10,000 deep is 50 s


def flow_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside quoted scalars and comments (a cheap upper bound)."""
    depth = deepest = 0
    quote = None
    previous = "\n"
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and previous in " \t\n":
            quote = "\n"  # a comment runs to the end of the line
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
        previous = ch
    return deepest


def refuse_aliases(text: str, source: str) -> None:
    """Scenario and case files never need YAML aliases (``*name``), and a few lines of them can expand
    into gigabytes when the document is validated or printed (a "billion laughs" document): refuse
    any alias, reading the event stream, which costs time linear in the text."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1
            raise Problems([f"{source}:{line}: YAML aliases (*{event.anchor}) are not allowed; write the value out"])


def load_validated(text: str, schema: dict, source: str):
    """(document, YAML node tree for line lookups); raises Problems with one line per problem."""
    try:
        if flow_depth(text) > MAX_FLOW_DEPTH:
            raise Problems([f"{source}: not valid YAML/JSON: [ and {{ nest more than {MAX_FLOW_DEPTH} deep"])
        refuse_aliases(text, source)
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # JSON is YAML: one parser serves both, with line marks
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise Problems([f"{source}{line}: not valid YAML/JSON: {getattr(err, 'problem', err)}"]) from None
    except RecursionError:
        raise Problems([f"{source}: not valid YAML/JSON: nested too deeply"]) from None
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # point at the unexpected key itself, not at the object holding it
            allowed = set(error.schema.get("properties", {}))
            path += sorted(k for k in error.instance if k not in allowed)[:1]
        line = line_of(node, path)
        problems.append(f"{source}{f':{line}' if line else ''}: {where(path)}: {error.message}")
    if problems:
        raise Problems(problems)
    return doc, node
