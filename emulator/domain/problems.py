"""One exception for "this description is invalid, for these reasons", shared by every definition."""

from __future__ import annotations


class Problems(ValueError):
    """Every reason a definition (tenant, Data Extension, scenario) is refused, one sentence each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems
