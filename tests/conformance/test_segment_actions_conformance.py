"""Segment's published SFMC destination, unchanged, through the emulator's forward proxy: the result of
each case under both mappings is asserted, so a change in Segment's code, in the case library or in
the emulator that moves a rule shows up here (docs/conformance-segment.md is the full report).

passthrough: the actions' defaults (whole traits/properties objects, Contact Key = userId);
fields: one Title-Cased column per field, Contact Key = userId or email without colons.
"""

from __future__ import annotations

import pytest

from conformance.cases import load_cases
from conformance.connectors import make_adapter
from conformance.runner import FAILED, PASSED, run_case
from conformance.segment_actions import ensure_installed, proxied_emulator

CASES = {case.id: case for case in load_cases()}

# case id: (the action writing its Data Extension rows, result with passthrough, result with fields)
EXPECTED = {
    # identify
    "id-1-identify-without-identifier-not-forwarded": ("dataExtension", FAILED, PASSED),
    "id-2-contact-key-userid-then-email": ("dataExtension", FAILED, PASSED),
    "id-3-colons-removed-from-contact-key": ("dataExtension", FAILED, PASSED),
    "id-5-do-not-create-contacts": ("dataExtension", FAILED, PASSED),
    "id-6-no-identify-de-no-de-write": ("dataExtension", PASSED, PASSED),
    "fmt-1-keys-title-cased": ("dataExtension", FAILED, PASSED),
    "fmt-3-dates-sent-as-iso-8601": ("dataExtension", FAILED, FAILED),
    # track
    "tr-1-only-conversion-events-sent": ("dataExtension", PASSED, PASSED),
    "tr-2-properties-title-cased-contact-key-userid": ("dataExtension", FAILED, PASSED),
    "tr-3-composite-primary-key-any-order": ("dataExtension", PASSED, PASSED),
    "tr-5-uuid-primary-key-one-row-per-event": ("dataExtension", FAILED, PASSED),
    # API event
    "api-1-configured-event-fires-journey-entry": ("dataExtension", FAILED, PASSED),
    # async
    "bat-1-rows-through-async-api": ("asyncDataExtension", FAILED, PASSED),
    "bat-3-async-api-disabled-is-reported": ("asyncDataExtension", FAILED, FAILED),
    # SFMC behaviour
    "rl-1-429-retried-after-retry-after": ("dataExtension", FAILED, FAILED),
    "sfmc-partial-rowset-keeps-good-rows": ("dataExtension", PASSED, PASSED),
}


@pytest.fixture(scope="module")
def proxied():
    ensure_installed()
    with proxied_emulator() as (client, proxy_env):
        yield client, proxy_env


@pytest.mark.parametrize("profile", ["passthrough", "fields"])
@pytest.mark.parametrize("case_id", list(EXPECTED))
def test_segment_destination_result_per_case(case_id, profile, proxied):
    client, proxy_env = proxied
    action, *wanted = EXPECTED[case_id]
    adapter = make_adapter(f"segment-actions:{action}:{profile}")
    adapter.proxy_env = proxy_env
    result = run_case(CASES[case_id], adapter, client)
    expected = wanted[0] if profile == "passthrough" else wanted[1]
    journal = [f"{r['method']} {r['path']} {r['status']} {r['request_body'][:160]}" for r in result.requests]
    assert result.status == expected, (result.reason, [f.message for f in result.failures], result.result, journal)
    # Segment's code reached the emulator by SFMC's own host names, through the proxy only
    assert result.result["proxy"] == proxy_env["HTTPS_PROXY"] and result.result["exit_code"] == 0
    assert any(r["path"] == "/v2/token" and r["status"] == 200 for r in result.requests)


def test_passthrough_misses_title_case_and_says_which_keys_sfmc_ignored(proxied):
    """What 'depends on mapping' means for FMT-1: the default mapping sends the trait names as they are."""
    client, proxy_env = proxied
    adapter = make_adapter("segment-actions:dataExtension")
    adapter.proxy_env = proxy_env
    result = run_case(CASES["fmt-1-keys-title-cased"], adapter, client)
    rowsets = [r for r in result.requests if r["path"] == "/hub/v1/dataevents/key:identify/rowset"]
    # the first call carries no token: Segment's platform gets one on the 401, as OAuth destinations do
    assert rowsets[0]["status"] == 401 and rowsets[-1]["status"] == 200
    assert '"firstName"' in rowsets[-1]["request_body"] and "firstName" in rowsets[-1]["keys_ignored"]


def test_async_action_finds_its_data_extension_through_its_own_lookup_and_hook(proxied):
    client, proxy_env = proxied
    adapter = make_adapter("segment-actions:asyncDataExtension:fields")
    adapter.proxy_env = proxy_env
    result = run_case(CASES["bat-1-rows-through-async-api"], adapter, client)
    paths = [(r["method"], r["path"].split("?")[0]) for r in result.requests]
    assert ("GET", "/data/v1/customobjects") in paths  # the mapping editor's DE list
    puts = [p for m, p in paths if m == "PUT" and p.startswith("/data/v1/async/dataextensions/")]
    assert puts and all(p.count("/") == 6 for p in puts)  # by DE id, as the onMappingSave hook selected


def test_cli_starts_its_emulator_with_a_proxy_for_segments_destination():
    from click.testing import CliRunner

    from conformance.cli import main

    done = CliRunner().invoke(
        main, ["run", "--connector", "segment-actions:dataExtension:fields", "-k", "id-2-contact-key"]
    )
    assert done.exit_code == 0, done.output
    assert "--proxy-port" in done.output and "PASS  ID-2" in done.output
