"""A SOAP-based connector (rows written by FuelSDK-Python's Create with UpdateAdd) under the seed rules.

The rows it writes over ``/Service.asmx`` must land exactly as the REST connector's do: every
Identify, formatting, Personas and Track case passes, except the traffic checks that require the
REST rowset path itself (``/hub/v1/dataevents``), which a SOAP connector by definition never calls.
"""

from __future__ import annotations

import pytest

from conformance.cases import load_cases
from conformance.connectors import make_adapter
from conformance.report import text_report
from conformance.runner import PASSED, WAITING, run_case

SOAP_CONNECTOR = "python:conformance.soap_connector:run"
ROW_RULES = ("ID-", "FMT-", "PER-", "TR-")
CASES = [case for case in load_cases() if any(rule.startswith(ROW_RULES) for rule in case.rules)]


def _rest_path_only(failure) -> bool:
    return failure.check.startswith("traffic.") and "/hub/v1/dataevents" in failure.message


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_soap_connector_rows_follow_the_seed_rules(case, conformance_emulator):
    result = run_case(case, make_adapter(SOAP_CONNECTOR), conformance_emulator)
    if result.status == WAITING:
        pytest.skip(f"waiting for the emulator: {result.reason}")
    assert not result.result.get("soap_row_errors"), result.result["soap_row_errors"]
    if result.status != PASSED:
        other = [f for f in result.failures if not _rest_path_only(f)]
        assert result.failures and not other, text_report([result], SOAP_CONNECTOR)


def test_the_rows_really_travel_over_soap(conformance_emulator):
    [case] = [case for case in CASES if case.id == "tr-4-same-primary-key-latest-values"]
    result = run_case(case, make_adapter(SOAP_CONNECTOR), conformance_emulator)
    assert result.status == PASSED, text_report([result], SOAP_CONNECTOR)
    paths = [(r["method"], r["path"]) for r in result.requests]
    assert ("POST", "/Service.asmx") in paths
    assert not [p for p in paths if p[1].startswith("/hub/v1/dataevents")]
    assert result.result["soap_rows"] >= 2
