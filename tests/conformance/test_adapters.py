"""The tracking-API adapter: the harness starts a Segment endpoint per case, posts /v1/batch and waits
for the journal to go quiet."""

from __future__ import annotations

import sys

from conformance.adapters import AdapterError, HttpAdapter
from conformance.cases import load_cases
from conformance.connectors import make_adapter
from conformance.report import text_report
from conformance.runner import PASSED, run_case

CASES = {case.id: case for case in load_cases()}
SERVE = (
    f"serve:{sys.executable} -m connector serve --settings {{settings_file}} --port {{port}} "
    "--write-key {write_key} --interval 0.2"
)


def test_serve_adapter_posts_a_batch_and_waits_for_delivery(conformance_emulator):
    adapter = make_adapter(SERVE)
    result = run_case(CASES["tr-5-uuid-primary-key-one-row-per-event"], adapter, conformance_emulator)
    assert result.status == PASSED, text_report([result], adapter.name)
    assert result.result == {"posted": 2}


def test_serve_adapter_checks_what_must_leave_no_trace(conformance_emulator):
    """Through HTTP the harness has only the emulator's view, which is enough for "not forwarded" (ID-1)."""
    adapter = make_adapter(SERVE)
    case = CASES["id-1-identify-without-identifier-not-forwarded"]
    result = run_case(case, adapter, conformance_emulator)
    assert result.status == PASSED, text_report([result], adapter.name)


def test_http_adapter_needs_the_credentials_the_endpoint_uses():
    try:
        HttpAdapter("http://127.0.0.1:9", "key", environ={})
    except AdapterError as err:
        assert "SFMC_CLIENT_ID, SFMC_CLIENT_SECRET" in str(err)
    else:
        raise AssertionError("a running endpoint without credentials was accepted")
    adapter = HttpAdapter(
        "http://127.0.0.1:9", "key", environ={"SFMC_CLIENT_ID": "c" * 24, "SFMC_CLIENT_SECRET": "s" * 24}
    )
    assert adapter.serial and adapter.fixed_credentials["client_id"] == "c" * 24
