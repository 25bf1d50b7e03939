"""Fidelity mode: the emulator's own answers against SFMC's documented shapes; also aimed at an endpoint
without a control plane (``--target``)."""

from __future__ import annotations

from conformance.fidelity import FIDELITY_DE, load_checks, run_fidelity


def test_the_emulator_answers_like_sfmc(conformance_emulator):
    outcomes = run_fidelity(conformance_emulator.url)
    failed = {o["id"]: o["problems"] for o in outcomes if o["status"] == "failed"}
    assert failed == {}
    assert {o["id"] for o in outcomes} == {c["id"] for c in load_checks()}
    passed = {o["id"] for o in outcomes if o["status"] == "passed"}
    assert {
        "token-v2-shape",
        "rest-expired-token-401-www-authenticate",
        "rate-limit-429-50100-retry-after",
        "rowset-bad-row-10006",
        "rowset-links-are-token-strings",
        "mixed-case-paths-answer",
        "customobjects-search-required",
        "values-need-an-existing-field",
        "async-unknown-de-request-id",
        "hub-async-empty-body",
        "token-v2-expires-in-1079",
        "token-legacy-expires-in-3479",
    } <= passed


def test_another_endpoint_is_checked_without_the_control_plane(conformance_emulator):
    tenant = conformance_emulator.create_tenant(
        {"data_extensions": [{**FIDELITY_DE, "key": "mine"}], "settings": {"rate_limit": 0}}
    )
    package = tenant["packages"][0]
    outcomes = run_fidelity(
        None,
        target=conformance_emulator.url,
        client_id=package["client_id"],
        client_secret=package["client_secret"],
        de_key="mine",
    )
    by_status = {o["id"]: o["status"] for o in outcomes}
    assert by_status["rate-limit-429-50100-retry-after"] == "skipped"
    assert by_status["token-bad-credentials"] == "passed" and by_status["rowset-upsert-echo"] == "passed"
    assert "failed" not in by_status.values()
    conformance_emulator.delete_tenant(tenant["id"])
