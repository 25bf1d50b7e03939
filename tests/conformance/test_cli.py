"""``sfmc-conformance``: run, list, coverage and fidelity, as a CI job would call them."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from click.testing import CliRunner

from conformance.cli import main


def test_run_reports_per_rule_and_writes_junit_and_json(conformance_emulator, tmp_path):
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--connector",
            "python:conformance.bundled:run",
            "-k",
            "TR-",
            "--emulator",
            conformance_emulator.url,
            "--junit",
            str(junit),
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "PASS  TR-5  UUID Primary Key" in result.output and "0 failed" in result.output
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 6
    assert {r["status"] for r in json.loads(report.read_text())["results"]} == {"passed"}


def test_a_broken_connector_fails_with_a_diff_and_the_requests(conformance_emulator):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--connector",
            "python:conformance.broken:colons_kept",
            "-k",
            "id-3-colons-removed-from-contact-key",
            "--emulator",
            conformance_emulator.url,
        ],
    )
    assert result.exit_code == 1
    assert "FAIL  ID-3" in result.output and "rules broken: ID-3" in result.output
    assert "Contact Keys with ':' were sent: ['acme:user:42'" in result.output
    assert "POST /hub/v1/dataevents/key:identify/rowset -> 200" in result.output
    assert 'expected: [{"Contact Key": "acmeuser42"' in result.output


def test_fault_profile_replays_cases(conformance_emulator):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--connector",
            "python:conformance.bundled:run",
            "-k",
            "id-4",
            "--faults",
            "token-expiry",
            "--emulator",
            conformance_emulator.url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "under fault profile 'token-expiry'" in result.output


def test_bad_connector_spec_and_empty_selection_are_clear_errors(conformance_emulator):
    runner = CliRunner()
    bad = runner.invoke(main, ["run", "--connector", "ftp://x", "--emulator", conformance_emulator.url])
    assert bad.exit_code == 1 and "unknown connector 'ftp://x'" in bad.output
    empty = runner.invoke(main, ["run", "--connector", "python:conformance.bundled:run", "-k", "no-such-case"])
    assert empty.exit_code == 1 and "no case matches" in empty.output


def test_list_and_coverage():
    runner = CliRunner()
    listing = runner.invoke(main, ["list", "-k", "ID-1"])
    assert "id-1-identify-without-identifier-not-forwarded" in listing.output and "identify.yaml:" in listing.output
    table = runner.invoke(main, ["coverage"])
    assert "| BAT-3 |" in table.output and "`bat-3-async-api-disabled-is-reported`" in table.output


def test_run_starts_its_own_emulator_when_none_is_given():
    result = CliRunner().invoke(main, ["run", "--connector", "python:conformance.bundled:run", "-k", "tr-5"])
    assert result.exit_code == 0, result.output
    assert "1 case(s): 1 passed" in result.output
