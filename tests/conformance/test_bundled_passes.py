"""The bundled connector passes every case of the library (one test per case, so xdist spreads them)."""

from __future__ import annotations

import pytest

from conformance.cases import load_cases
from conformance.connectors import make_adapter
from conformance.report import text_report
from conformance.runner import PASSED, WAITING, run_case

CASES = load_cases()
BUNDLED = "python:conformance.bundled:run"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bundled_connector_passes(case, conformance_emulator):
    result = run_case(case, make_adapter(BUNDLED), conformance_emulator)
    if result.status == WAITING:
        pytest.skip(f"waiting for the emulator: {result.reason}")
    assert result.status == PASSED, text_report([result], BUNDLED)
