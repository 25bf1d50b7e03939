"""The growth tables stay runnable: a small run prints every table with a figure per size."""

from __future__ import annotations

import re

from tests.loadtests.script_helpers import run_script


def test_growth_prints_every_table():
    out = run_script("growth", "--requests", "20", "--stored", "2000", "--tenants", "1,3", timeout=300)
    assert len(re.findall(r"^\s+\d+ rows\s+[\d.]+ ms\s+[\d.]+ us/row$", out, re.M)) == 6
    assert len(re.findall(r"^\s+\d+ columns\s+[\d.]+ ms", out, re.M)) == 5
    assert re.search(r"2,000 stored  new 1 row\s+[\d.]+  new 50\s+[\d.]+  update 50\s+[\d.]+  \$filter read", out)
    assert re.findall(r"^\s+(\d+) tenants\s+[\d.]+ ms  \(first call [\d.]+ ms\)$", out, re.M) == ["1", "3"]
