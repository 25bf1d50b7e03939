"""Every SFMC error is a named constructor in emulator/errors.py: nothing else builds an error envelope."""

from __future__ import annotations

import ast
from pathlib import Path

from emulator.api.common import reference

EMULATOR = Path(__file__).resolve().parents[2] / "emulator"
ENVELOPES = {"SfmcError", "OAuthError", "AsyncApiError", "bad_request", "detail"}


def test_no_module_but_errors_builds_an_error_envelope():
    offenders = []
    for path in EMULATOR.rglob("*.py"):
        if path.name == "errors.py" and path.parent == EMULATOR:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in ENVELOPES:
                    offenders.append(f"{path.relative_to(EMULATOR.parent)}:{node.lineno} {name}(...)")
    assert offenders == []


def test_one_reading_of_key_and_id_references():
    guid = "0f5e7c1a-2b3c-4d5e-8f90-123456789abc"
    assert (reference("key:Orders").kind, reference("key:Orders").value) == ("key", "Orders")
    assert (reference("KEY:Orders").kind, reference(f"id:{guid}").value) == ("key", guid)
    assert reference(guid).is_guid and reference(f"ID:{guid}").is_guid
    assert not reference("id:42").is_guid and not reference("key:abc").is_guid
    assert reference("Orders", by="key") == reference("key:Orders").__class__("key", "Orders", "Orders")
    assert (reference("key:").kind, reference("key:").value) == ("id", "key:")  # no value: a (bad) bare id
    assert reference("foo:x").raw == "foo:x" and reference("foo:x").kind == "foo"
