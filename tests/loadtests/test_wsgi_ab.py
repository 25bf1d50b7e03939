"""The in-process A/B of two source trees stays runnable: a short run of this checkout against itself."""

from __future__ import annotations

import re

from loadtests.common import REPO
from tests.loadtests.script_helpers import run_script


def test_wsgi_ab_prints_both_apps_and_their_difference():
    out = run_script("wsgi_ab", "--before", str(REPO), "--rounds", "2", "--chunk", "10", timeout=120)
    figure = r"^(before|after) .*CPU per request min [\d.]+ us, median [\d.]+ us \(2 chunks of 10\)$"
    assert re.findall(figure, out, re.M) == ["before", "after"]
    assert re.search(r"^after - before: [+-][\d.]+ us per request \(medians\), after / before [\d.]+$", out, re.M)
