"""The external-command adapter, driving a connector written in another language (Node 20, no npm)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conformance.cases import load_cases
from conformance.connectors import make_adapter
from conformance.report import text_report
from conformance.runner import PASSED, WAITING, run_case

NODE = shutil.which("node")
INDEX = Path(__file__).resolve().parents[2] / "examples" / "node-connector" / "index.js"
CORE = [
    "id-1-identify-without-identifier-not-forwarded",
    "id-2-contact-key-userid-then-email",
    "id-3-colons-removed-from-contact-key",
    "fmt-1-keys-title-cased",
    "fmt-2-nested-objects-left-out",
    "fmt-3-dates-sent-as-iso-8601",
    "tr-3-composite-primary-key-any-order",
    "tr-5-uuid-primary-key-one-row-per-event",
    "ctx-1-context-fields-mapped-on-identify",
    "rl-1-429-retried-after-retry-after",
    "sfmc-partial-rowset-keeps-good-rows",
    "auth-3-account-id-selects-business-unit",
]

if NODE is None and os.environ.get("CI") == "true":
    pytest.fail("node is required in CI for the external-command conformance tests", pytrace=False)
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed on this machine")
CASES = {case.id: case for case in load_cases()}


@needs_node
@pytest.mark.parametrize("case_id", CORE)
def test_node_connector_passes_the_core_cases(case_id, conformance_emulator):
    adapter = make_adapter(f"cmd:{NODE} {INDEX}")
    result = run_case(CASES[case_id], adapter, conformance_emulator)
    if result.status == WAITING:
        pytest.skip(result.reason)
    assert result.status == PASSED, text_report([result], adapter.name)
    assert result.result["exit_code"] == 0 and result.result["delivered"] >= 1


@needs_node
def test_node_connector_without_personas_fails_the_personas_rules(conformance_emulator):
    """The example does not sync Personas: the suite says so, rule by rule."""
    adapter = make_adapter(f"cmd:{NODE} {INDEX}")
    result = run_case(CASES["per-5-computed-trait-column"], adapter, conformance_emulator)
    assert result.failed_rules == {"PER-5"}
    assert "expected row(s) not found" in result.failures[0].message


def test_a_failing_command_is_reported_with_its_exit_status(conformance_emulator, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text("import sys\nsys.stdin.read()\nsys.exit('cannot reach SFMC')\n")
    result = run_case(
        CASES["id-4-traits-upserted-by-contact-key"], make_adapter(f"cmd:python3 {script}"), conformance_emulator
    )
    assert result.status == "failed"
    assert result.failures[0].check == "connector" and "exit status 1" in result.failures[0].message
