"""The SOAP throughput benchmark stays runnable: a small run prints every figure and both ratios."""

from __future__ import annotations

import json

from tests.loadtests.script_helpers import run_script


def test_bench_soap_prints_figures_and_ratios(tmp_path):
    out = tmp_path / "soap.json"
    stdout = run_script("bench_soap", "--rows", "60", "--repeats", "1", "--json-out", str(out))
    assert "ratio SOAP ÷ REST one 60-row rowset" in stdout and "ratio SOAP ÷ REST 50-row rowsets" in stdout
    figures = json.loads(out.read_text())
    assert figures["rows"] == 60
    assert set(figures["figures"]) == {"soap_create", "rest_one_rowset", "rest_50_row_rowsets"}
    assert all(f["rows_per_s"] > 0 for f in figures["figures"].values())
    assert figures["ratios"]["soap_over_rest_one_rowset"] > 0
