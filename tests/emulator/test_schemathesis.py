"""schemathesis against a live emulator: calls generated from the served OpenAPI document, every answer checked.

A real server (waitress on 127.0.0.1, this test's own database) gets a bounded number of valid and
invalid calls per documented operation (``loadtests.fuzz``: seeded, no deadline, no example
database, so a run makes the same calls every time). No answer may be a 5xx, and each must have a
documented status code and content type and fit the documented schema of its status.
``python -m loadtests.fuzz`` is the long run of the same checks (over 10,000 calls).
"""

from __future__ import annotations

from emulator.launcher import ThreadedEmulator
from loadtests.fuzz import fuzz, prepare

EXAMPLES = 10  # per operation, valid and invalid mixed: about 850 calls


def test_generated_calls_get_no_5xx_and_answers_that_match_the_document(database):
    server = ThreadedEmulator(database=database, threads=4)
    try:
        token, known = prepare(server.url)
        tally = fuzz(server.url, token, examples=EXAMPLES, seed=1, known=known)
    finally:
        server.stop()
        server.emulator.async_rows.stop()
        server.emulator.store.close()
    found = "\n".join(f"{problem}\n    {curl}" for problem, curl in tally.examples.items())
    assert tally.requests > 500, tally.statuses
    assert tally.server_errors == 0, found
    assert tally.violations == 0, found
    assert tally.examples == {}, found  # generation problems are recorded too
