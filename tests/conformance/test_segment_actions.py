"""Segment's published SFMC destination as a conformance connector: the subscriptions the adapter
configures from a case, and the runner's refusal to run without the emulator's proxy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conformance.adapters import AdapterError
from conformance.connectors import make_adapter
from conformance.segment_actions import RUNNER, subscriptions

IDENTIFY = {"identify_de_key": "identify", "do_not_create_contacts": False}
ORDERS = {
    "do_not_create_contacts": True,
    "conversion_events": [{"event": "Order Completed", "de_key": "orders", "primary_keys": "Contact Key,Product Id"}],
    "api_events": {"Order Completed": "APIEvent-orders"},
}
EVENTS = [
    {"type": "identify", "userId": "u-1", "traits": {"firstName": "Ann", "address": {"city": "X"}}},
    {"type": "track", "event": "Order Completed", "userId": "u-1", "properties": {"productId": "p-1", "revenue": 3}},
]


def by_action(subs):
    return {s["partnerAction"]: s for s in subs}


def test_passthrough_maps_whole_objects_with_the_actions_defaults():
    subs = by_action(subscriptions(IDENTIFY, EVENTS, "dataExtension"))
    assert set(subs) == {"dataExtension", "contact"}
    de = subs["dataExtension"]
    assert de["subscribe"] == 'type = "identify"' and not de["batch"]
    assert de["mapping"] == {
        "key": "identify",
        "keys": {"Contact Key": {"@path": "$.userId"}},
        "values": {"@path": "$.traits"},
    }
    assert subs["contact"]["mapping"] == {"contactKey": {"@path": "$.userId"}}


def test_fields_profile_title_cases_flat_fields_and_cleans_the_contact_key():
    subs = by_action(subscriptions(IDENTIFY, EVENTS, "dataExtension", "fields"))
    de = subs["dataExtension"]
    # ID-1: identifies with neither a userId nor an email are left out by the subscription itself
    assert (
        de["subscribe"]
        == subs["contact"]["subscribe"]
        == ('type = "identify" and (userId != null or traits.email != null)')
    )
    assert de["mapping"]["values"] == {"First Name": {"@path": "$.traits.firstName"}}  # the nested address is left out
    key = de["mapping"]["keys"]["Contact Key"]["@if"]
    assert key["then"]["@replace"]["pattern"] == ":" and key["else"]["@replace"]["value"] == {"@path": "$.traits.email"}


def test_track_subscriptions_take_the_primary_key_from_the_events_properties():
    subs = by_action(subscriptions(ORDERS, EVENTS, "dataExtension", "fields"))
    assert set(subs) == {"dataExtension", "apiEvent"}  # Do Not Create Contacts: no contact subscription
    de = subs["dataExtension"]
    assert de["subscribe"] == 'type = "track" and event = "Order Completed"'
    assert de["mapping"]["keys"]["Product Id"] == {"@path": "$.properties.productId"}
    assert de["mapping"]["values"] == {"Revenue": {"@path": "$.properties.revenue"}}
    assert subs["apiEvent"]["mapping"]["eventDefinitionKey"] == "APIEvent-orders"


def test_async_action_batches_and_selects_its_data_extension_through_the_hook():
    settings = {**ORDERS, "batching": {"enabled": True}}
    subs = by_action(subscriptions(settings, EVENTS, "asyncDataExtension"))
    de = subs["asyncDataExtension"]
    assert de["batch"] and de["select_data_extension"] == {"key": "orders"}
    assert "key" not in de["mapping"]
    assert "apiEvent" in subs  # passthrough keeps every subscription a user made
    assert "apiEvent" not in by_action(subscriptions(settings, EVENTS, "asyncDataExtension", "fields"))


def test_batched_data_extension_enables_the_actions_batching():
    settings = {"identify_de_key": "identify", "do_not_create_contacts": True, "batching": {"enabled": True}}
    de = by_action(subscriptions(settings, EVENTS, "dataExtension"))["dataExtension"]
    assert de["batch"] and de["mapping"]["enable_batching"] is True


@pytest.mark.parametrize(
    ("spec", "message"),
    [("segment-actions:contact", "Data Extension action"), ("segment-actions:dataExtension:loose", "profile")],
)
def test_unknown_action_or_profile_is_refused(spec, message):
    with pytest.raises(AdapterError, match=message):
        make_adapter(spec)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed on this machine")
def test_runner_refuses_to_run_without_the_emulator_proxy(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"settings": {"subdomain": "mc" + "x" * 26}, "subscriptions": []}))
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("https_proxy", "http_proxy")}
    done = subprocess.run(
        ["node", str(RUNNER)],
        input=json.dumps(EVENTS[0]) + "\n",
        capture_output=True,
        text=True,
        env={**env, "SFMC_SETTINGS_FILE": str(settings)},
        timeout=60,
    )
    assert done.returncode == 2
    assert "HTTPS_PROXY is not set" in done.stderr and done.stdout == ""
