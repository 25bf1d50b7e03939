"""The suite has teeth: each deliberately broken connector fails the cases of the rule it breaks."""

from __future__ import annotations

import pytest

from conformance.adapters import make_adapter
from conformance.broken import BROKEN
from conformance.cases import load_cases
from conformance.runner import FAILED, WAITING, run_case

CASES = load_cases()


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_connector_is_caught_by_its_rule(name, conformance_emulator):
    _, rule = BROKEN[name]
    relevant = [case for case in CASES if rule in case.rules]
    assert relevant, f"no case cites {rule}"
    adapter = make_adapter(f"python:conformance.broken:{name}")
    results = [run_case(case, adapter, conformance_emulator) for case in relevant]
    caught = [result.case.id for result in results if result.status == FAILED]
    failed_rules = {r for result in results for r in result.failed_rules}
    waiting = [result for result in results if result.status == WAITING]
    if rule not in failed_rules and waiting:
        pytest.skip(
            f"{name} is not caught yet, and {len(waiting)} {rule} case(s) wait for the emulator: "
            + "; ".join(sorted({w.reason for w in waiting}))
        )
    assert rule in failed_rules, f"{name} breaks {rule} but no {rule} case failed: " + ", ".join(
        f"{r.case.id}={r.status}" for r in results
    )
    assert caught


def test_every_broken_connector_names_a_known_rule():
    cited = {rule for case in CASES for rule in case.rules}
    assert {rule for _, rule in BROKEN.values()} <= cited
