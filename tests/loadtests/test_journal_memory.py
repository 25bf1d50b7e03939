"""The journal-memory benchmark stays runnable: a small run sends every call and reports RSS and the journal's bytes."""

from __future__ import annotations

import re

from tests.loadtests.script_helpers import run_script


def test_journal_memory_reports_rss_and_the_journal_bound():
    stdout = run_script("journal_memory", "--requests", "60", "--tenants", "2", "--header-kb", "20")
    assert "statuses {200: 60}" in stdout
    held = float(re.search(r"journal holds ([\d.]+) MB \(bound 64 MB\)", stdout).group(1))
    assert 0 < held < 64
    assert re.search(r"RSS at start [\d.]+ MB, at end [\d.]+ MB, peak [\d.]+ MB", stdout)
