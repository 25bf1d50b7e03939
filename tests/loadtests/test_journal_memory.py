"""The journal-memory benchmark stays runnable: a small run sends every call and reports RSS and the journal's bytes."""

from __future__ import annotations

import re
import subprocess
import sys

from loadtests.common import REPO


def test_journal_memory_reports_rss_and_the_journal_bound():
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.journal_memory", "--requests", "60", "--tenants", "2", "--header-kb", "20"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "statuses {200: 60}" in done.stdout
    held = float(re.search(r"journal holds ([\d.]+) MB \(bound 64 MB\)", done.stdout).group(1))
    assert 0 < held < 64
    assert re.search(r"RSS at start [\d.]+ MB, at end [\d.]+ MB, peak [\d.]+ MB", done.stdout)
