"""Journey Builder API events (API-1): event definitions, firing events, entry data as DE rows, journey entries."""

from __future__ import annotations

import pytest

from emulator.domain.tenants import SEED_SCOPES
from tests.fixtures import contact_de

EVENT_DE = contact_de("registered", "Registered", {"name": "Plan", "type": "Text"}, {"name": "Age", "type": "Number"})
DEFINITION = {"key": "APIEvent-registered", "name": "Registered Journey", "data_extension": "registered"}


@pytest.fixture
def journey(tenant_factory):
    return tenant_factory(data_extensions=[EVENT_DE], event_definitions=[DEFINITION])


def entries(client, tenant) -> list[dict]:
    response = client.get(f"/_emulator/tenants/{tenant.id}/journey-entries")
    assert response.status_code == 200
    return response.get_json()["items"]


@pytest.mark.parametrize(
    "body",
    [
        {"ContactKey": "u1", "EventDefinitionKey": "APIEvent-registered", "Data": {"Plan": "pro"}},
        {"contactKey": "u1", "eventDefinitionKey": "APIEvent-registered", "data": {"plan": "pro"}},
        {"CONTACTKEY": "u1", "eventdefinitionkey": "apievent-registered", "Data": {"Plan": "pro"}},
    ],
)
def test_event_enters_the_journey_and_writes_its_data(journey, client, body):
    response = journey.call("POST", "/interaction/v1/events", json=body)
    assert response.status_code == 201, response.get_json()
    instance = response.get_json()["eventInstanceId"]
    assert len(instance) == 36
    assert journey.rows("registered") == [{"Plan": "pro", "Contact Key": "u1"}]  # the contact key filled in
    [entry] = entries(client, journey)
    assert (entry["eventInstanceId"], entry["contactKey"], entry["eventDefinitionKey"]) == (
        instance,
        "u1",
        "APIEvent-registered",
    )
    assert entry["data"] == body.get("Data", body.get("data")) and entry["time"] and entry["at"]


def test_the_journal_shows_what_events_wrote_and_the_rules_they_broke(journey, client):
    one = {"ContactKey": "u1", "EventDefinitionKey": "APIEvent-registered", "Data": {"Plan": "pro"}}
    assert journey.call("POST", "/interaction/v1/events", json=one).status_code == 201
    refused = {"ContactKey": "u2", "EventDefinitionKey": "APIEvent-registered", "Data": {"Shoe Size": 9}}
    assert journey.call("POST", "/interaction/v1/events", json=refused).status_code == 400
    members = {"EventDefinitionKey": "APIEvent-registered", "Members": [{"ContactKey": "m1"}, {"ContactKey": "m2"}]}
    assert journey.call("POST", "/interaction/v1/async/events", json=members).status_code == 202
    listed = client.get("/_emulator/journal", query_string={"tenant": journey.id, "path_contains": "/events"})
    many, bad, good = listed.get_json()["items"]  # newest first
    assert (good["rows_written"], good["rules_broken"]) == (1, [])
    assert bad["rows_written"] == 0 and any("Shoe Size" in rule for rule in bad["rules_broken"])
    assert many["rows_written"] == 2


def test_data_contact_key_wins_over_the_event_contact_key(journey):
    response = journey.call(
        "POST",
        "/interaction/v1/events",
        json={"ContactKey": "u1", "EventDefinitionKey": "APIEvent-registered", "Data": {"contact key": "other"}},
    )
    assert response.status_code == 201
    assert journey.rows("registered") == [{"Contact Key": "other"}]


@pytest.mark.parametrize(
    "body, errorcode, needle",
    [
        ({"EventDefinitionKey": "APIEvent-registered"}, 10002, "ContactKey is required"),
        ({"ContactKey": "a:b", "EventDefinitionKey": "APIEvent-registered"}, 10003, "may not contain ':'"),
        ({"ContactKey": "u1"}, 10002, "EventDefinitionKey is required"),
        ({"ContactKey": "u1", "EventDefinitionKey": "nope"}, 10001, "'nope' was not found"),
        (
            {"ContactKey": "u1", "EventDefinitionKey": "APIEvent-registered", "Data": {"Age": "old"}},
            10006,
            "not a valid number",
        ),
    ],
)
def test_refused_events_use_the_error_envelope_and_enter_nobody(journey, client, body, errorcode, needle):
    response = journey.call("POST", "/interaction/v1/events", json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["errorcode"] == errorcode
    assert needle in error["message"] + " ".join(a["message"] for a in error.get("additionalErrors", []))
    assert entries(client, journey) == [] and journey.rows("registered") == []


def test_async_events_answer_per_member(journey, client):
    response = journey.call(
        "POST",
        "/interaction/v1/async/events",
        json={
            "eventDefinitionKey": "APIEvent-registered",
            "members": [
                {"contactKey": "a", "data": {"Plan": "x"}},
                {"contactKey": "b:c"},
                {"contactKey": "d", "data": {"Age": "old"}},
                {"ContactKey": "e"},
            ],
        },
    )
    assert response.status_code == 202
    body = response.get_json()
    assert (body["count"], body["notQueuedCount"], len(body["requestId"])) == (4, 2, 36)
    assert [m["contactKey"] for m in body["members"]] == ["a", "b:c", "d", "e"]
    assert [("eventInstanceId" in m, m.get("errorcode")) for m in body["members"]] == [
        (True, None),
        (False, "10003"),
        (False, "10006"),
        (True, None),
    ]
    assert "not a valid number" in body["members"][2]["message"]
    assert sorted(e["contactKey"] for e in entries(client, journey)) == ["a", "e"]
    assert sorted(r["Contact Key"] for r in journey.rows("registered")) == ["a", "e"]


def test_async_events_limits(journey):
    many = journey.call(
        "POST",
        "/interaction/v1/async/events",
        json={"eventDefinitionKey": "APIEvent-registered", "members": [{"contactKey": f"k{i}"} for i in range(101)]},
    )
    assert many.status_code == 400 and "at most 100" in many.get_json()["message"]
    unknown = journey.call(
        "POST", "/interaction/v1/async/events", json={"eventDefinitionKey": "nope", "members": [{"contactKey": "a"}]}
    )
    assert unknown.status_code == 400 and unknown.get_json()["errorcode"] == 10001


def test_event_definition_crud(journey, client):
    de_id = client.get(f"/_emulator/tenants/{journey.id}/data-extensions").get_json()["items"][0]["id"]
    created = journey.call(
        "POST",
        "/interaction/v1/eventDefinitions",
        json={"type": "APIEvent", "name": "Second", "eventDefinitionKey": "APIEvent-second", "dataExtensionId": de_id},
    )
    assert created.status_code == 201, created.get_json()
    definition = created.get_json()
    assert (definition["eventDefinitionKey"], definition["dataExtensionId"], definition["dataExtensionName"]) == (
        "APIEvent-second",
        de_id,
        "Registered",
    )
    again = journey.call(
        "POST",
        "/interaction/v1/eventDefinitions",
        json={"name": "Dup", "eventDefinitionKey": "apievent-SECOND", "dataExtensionId": de_id},
    )
    assert again.status_code == 409 and again.get_json()["errorcode"] == 30004
    listing = journey.call("GET", "/interaction/v1/eventDefinitions").get_json()
    assert listing["count"] == 2 and {d["eventDefinitionKey"] for d in listing["items"]} == {
        "APIEvent-registered",
        "APIEvent-second",
    }
    assert journey.call("GET", "/interaction/v1/eventDefinitions?name=seco").get_json()["count"] == 1
    by_id = journey.call("GET", f"/interaction/v1/eventDefinitions/{definition['id']}").get_json()
    by_key = journey.call("GET", "/interaction/v1/eventDefinitions/key:APIEvent-second").get_json()
    assert by_id == by_key
    renamed = journey.call("PUT", "/interaction/v1/eventDefinitions/key:APIEvent-second", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Renamed"
    assert renamed.get_json()["createdDate"] == definition["createdDate"]
    fired = journey.call(
        "POST", "/interaction/v1/events", json={"ContactKey": "z", "EventDefinitionKey": "APIEvent-second"}
    )
    assert fired.status_code == 201
    assert journey.call("DELETE", f"/interaction/v1/eventDefinitions/{definition['id']}").status_code == 200
    assert journey.call("GET", "/interaction/v1/eventDefinitions/key:APIEvent-second").status_code == 404
    admin = client.get(f"/_emulator/tenants/{journey.id}/event-definitions").get_json()["items"]
    assert [d["key"] for d in admin] == ["APIEvent-registered"]


@pytest.mark.parametrize(
    "body, needle",
    [
        ({"name": "X", "eventDefinitionKey": "k"}, "dataExtensionId' is required"),
        (
            {"name": "X", "eventDefinitionKey": "k", "dataExtensionId": "00000000-0000-0000-0000-000000000000"},
            "no data extension",
        ),
        ({"name": "X", "dataExtensionKey": "registered"}, "eventDefinitionKey' is required"),
        ({"name": "X", "eventDefinitionKey": "a.b", "dataExtensionKey": "registered"}, "no period"),
    ],
)
def test_bad_event_definitions_are_400(journey, body, needle):
    response = journey.call("POST", "/interaction/v1/eventDefinitions", json=body)
    assert response.status_code == 400 and needle in response.get_json()["message"]


def test_tenant_event_definitions_must_name_a_data_extension_it_has(client):
    response = client.post(
        "/_emulator/tenants",
        json={
            "data_extensions": [EVENT_DE],
            "event_definitions": [{"key": "a", "data_extension": "missing"}, DEFINITION, DEFINITION],
        },
    )
    assert response.status_code == 400
    messages = " ".join(e["message"] for e in response.get_json()["additionalErrors"])
    assert "event_definitions[0]" in messages and "used twice" in messages


def test_the_seed_package_can_fire_events_and_others_need_journeys_read(tenant_factory):
    seed = tenant_factory(
        data_extensions=[EVENT_DE], event_definitions=[DEFINITION], packages=[{"scopes": list(SEED_SCOPES)}]
    )
    ok = seed.call(
        "POST", "/interaction/v1/events", json={"ContactKey": "a", "EventDefinitionKey": "APIEvent-registered"}
    )
    assert ok.status_code == 201
    other = tenant_factory(
        data_extensions=[EVENT_DE], event_definitions=[DEFINITION], packages=[{"scopes": ["data_extensions_write"]}]
    )
    refused = other.call(
        "POST", "/interaction/v1/events", json={"ContactKey": "a", "EventDefinitionKey": "APIEvent-registered"}
    )
    assert refused.status_code == 403 and refused.get_json()["errorcode"] == 20002


def test_definitions_are_per_tenant_and_survive_reset_entries_do_not(journey, tenant_factory, client):
    other = tenant_factory()
    response = other.call(
        "POST", "/interaction/v1/events", json={"ContactKey": "a", "EventDefinitionKey": "APIEvent-registered"}
    )
    assert response.status_code == 400
    assert (
        journey.call(
            "POST", "/interaction/v1/events", json={"ContactKey": "a", "EventDefinitionKey": "APIEvent-registered"}
        ).status_code
        == 201
    )
    client.post(f"/_emulator/tenants/{journey.id}/reset")
    assert entries(client, journey) == []
    journey.get_token()
    assert journey.call("GET", "/interaction/v1/eventDefinitions").get_json()["count"] == 1


def test_demo_scenario_event_fires(client):
    from emulator.scenario import apply_scenario, demo_scenario_path, load_scenario_file

    apply_scenario(client.application.extensions["sfmc"], load_scenario_file(demo_scenario_path()))
    token = client.post(
        "/v2/token",
        json={"grant_type": "client_credentials", "client_id": "demo-client-id", "client_secret": "demo-client-secret"},
    ).get_json()["access_token"]
    response = client.post(
        "/interaction/v1/events",
        headers={"Authorization": f"Bearer {token}"},
        json={"ContactKey": "u1", "EventDefinitionKey": "APIEvent-user-registered", "Data": {"Plan": "pro"}},
    )
    assert response.status_code == 201, response.get_json()
    rows = client.get("/_emulator/tenants/demo/data-extensions/user-registered/rows").get_json()["items"]
    assert rows == [{"Plan": "pro", "Contact Key": "u1"}]
