"""Case files: schema errors name file, line and field; the library covers every seed rule; the coverage
table in docs/ is up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.cases import CaseError, load_cases, parse_cases
from conformance.coverage import coverage_table
from conformance.fidelity import load_checks
from conformance.rules import SEED_RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance-coverage.md"

VALID = """\
cases:
  - id: tiny-case
    rule: ID-4
    title: A tiny case
    events:
      - {type: identify, userId: u1}
    expect:
      rows:
        identify: {exact: [{Contact Key: u1}]}
"""


def test_a_valid_file_parses_with_defaults_merged():
    text = "defaults:\n  settings: {identify_de_key: identify}\n  section: Somewhere\n" + VALID
    [case] = parse_cases(text, "tiny.yaml")
    assert case.rules == ("ID-4",) and case.settings == {"identify_de_key": "identify"}
    assert case.section == "Somewhere" and case.source == "tiny.yaml:5"


def test_schema_errors_name_file_line_and_field():
    broken = VALID.replace("{exact: [{Contact Key: u1}]}", "{everything: []}")
    with pytest.raises(CaseError) as err:
        parse_cases(broken, "bad.yaml")
    assert any(p.startswith("bad.yaml:9: cases[0].expect.rows.identify") for p in err.value.problems), err.value


def test_unknown_keys_and_rule_ids_are_refused():
    with pytest.raises(CaseError) as err:
        parse_cases(VALID.replace("    title:", "    titel: x\n    title:"), "typo.yaml")
    assert "typo.yaml:4: cases[0].titel" in str(err.value)
    with pytest.raises(CaseError) as err:
        parse_cases(VALID.replace("rule: ID-4", "rule: ID-99"), "rule.yaml")
    assert "rule.yaml:3: cases[0].rule: unknown rule id(s) ID-99" in str(err.value)


def test_duplicate_ids_across_files_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    with pytest.raises(CaseError, match=r"case id 'tiny-case' is also used at a\.yaml:2"):
        load_cases(tmp_path)


def test_every_seed_rule_has_a_case():
    cited = {rule for case in load_cases() for rule in case.rules}
    assert [rule.id for rule in SEED_RULES if rule.id not in cited] == []


def test_k_selects_by_id_rule_or_title():
    assert {c.id for c in load_cases(pattern="TR-5")} == {"tr-5-uuid-primary-key-one-row-per-event"}
    assert all("BAT-" in " ".join(c.rules) or "bat" in c.id for c in load_cases(pattern="bat-"))


def test_the_coverage_document_is_up_to_date():
    expected = coverage_table(load_cases(), load_checks())
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/conformance-coverage.md is stale: run sfmc-conformance coverage --write docs/conformance-coverage.md"
    )
