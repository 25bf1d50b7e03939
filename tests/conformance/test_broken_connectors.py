"""The suite has teeth: each deliberately broken connector fails the cases of the rule it breaks."""

from __future__ import annotations

import pytest

from conformance.broken import BROKEN
from conformance.cases import load_cases
from conformance.connectors import make_adapter
from conformance.runner import FAILED, PASSED, WAITING, run_case

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


def test_broken_connectors_run_side_by_side_with_the_bundled_one(conformance_emulator):
    """Planners are injected per Destination, so a mutant never changes what another run plans."""
    from concurrent.futures import ThreadPoolExecutor

    [case] = [case for case in CASES if case.id == "id-3-colons-removed-from-contact-key"]
    runs = ["python:conformance.bundled:run", "python:conformance.broken:colons_kept"] * 3
    with ThreadPoolExecutor(len(runs)) as pool:
        statuses = list(pool.map(lambda spec: run_case(case, make_adapter(spec), conformance_emulator).status, runs))
    assert statuses == [PASSED, FAILED] * 3
