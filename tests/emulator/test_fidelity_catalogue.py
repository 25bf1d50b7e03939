"""docs/fidelity.md and tests/emulator/test_fidelity.py cannot drift apart.

Every catalogue row names a source and a test in test_fidelity.py that exists (the suite runs it, so
it passes on every green build); every test there is named by at least one row.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.emulator import test_fidelity

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
ROW = re.compile(r"^\|\s*([A-Z]+-\d+)\s*\|(.*)\|\s*$")


def catalogue_rows() -> list[tuple[str, list[str]]]:
    rows = []
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match.group(1), [cell.strip() for cell in match.group(2).split("|")]))
    return rows


def test_every_row_has_a_source_and_a_test_that_exists():
    rows = catalogue_rows()
    assert len(rows) >= 20
    ids = [row_id for row_id, _ in rows]
    assert len(ids) == len(set(ids)), "catalogue ids are unique"
    for row_id, cells in rows:
        assert len(cells) == 4, f"{row_id}: request | answer | source | test"
        request, answer, source, test = cells
        assert request and answer, row_id
        assert source, f"{row_id} cites no source"
        names = re.findall(r"`(test_\w+)`", test)
        assert names, f"{row_id} names no test"
        for name in names:
            assert callable(getattr(test_fidelity, name, None)), f"{row_id}: {name} is not in test_fidelity.py"


def test_every_fidelity_test_is_in_the_catalogue():
    named = {name for _, cells in catalogue_rows() for name in re.findall(r"`(test_\w+)`", cells[-1])}
    defined = {name for name in vars(test_fidelity) if name.startswith("test_")}
    assert defined - named == set(), "tests missing from docs/fidelity.md"
