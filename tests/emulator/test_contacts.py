"""Contacts (ID-3, ID-5): create or update with POST, update with PATCH, keys without ':'."""

from __future__ import annotations

import pytest

PATH = "/contacts/v1/contacts"


def contacts(client, tenant) -> list[dict]:
    response = client.get(f"/_emulator/tenants/{tenant.id}/contacts")
    assert response.status_code == 200
    return response.get_json()["items"]


def email_set(address: str) -> list[dict]:
    return [
        {
            "name": "Email Addresses",
            "items": [
                {"values": [{"name": "Email Address", "value": address}, {"name": "HTML Enabled", "value": True}]}
            ],
        }
    ]


def test_post_creates_then_updates_the_same_contact(tenant, client):
    first = tenant.call("POST", PATH, json={"contactKey": "u1", "attributeSets": []})
    assert first.status_code == 200
    body = first.get_json()
    assert (body["operationStatus"], body["rowsAffected"], body["contactKey"], body["contactId"]) == ("OK", 1, "u1", 1)
    assert body["isNewContactKey"] is True and body["hasErrors"] is False and body["resultMessages"] == []
    assert body["contactTypeID"] == 0 and body["requestServiceMessageID"] and body["serviceMessageID"]
    again = tenant.call("POST", PATH, json={"contactKey": "u1", "attributeSets": email_set("a@example.com")})
    assert again.status_code == 200
    assert (again.get_json()["contactId"], again.get_json()["isNewContactKey"]) == (1, False)
    second = tenant.call("POST", PATH, json={"contactKey": "u2", "attributeSets": []}).get_json()
    assert (second["contactId"], second["isNewContactKey"]) == (2, True)
    stored = contacts(client, tenant)
    assert [(c["contactKey"], c["contactId"]) for c in stored] == [("u1", 1), ("u2", 2)]
    assert stored[0]["attributes"] == {"Email Addresses": {"Email Address": "a@example.com", "HTML Enabled": True}}
    assert stored[0]["isNewContactKey"] is False and stored[1]["isNewContactKey"] is True


def test_patch_updates_by_key_or_id_and_merges_attributes(tenant, client):
    tenant.call("POST", PATH, json={"contactKey": "u1", "attributeSets": email_set("a@example.com")})
    by_key = tenant.call(
        "PATCH",
        PATH,
        json={
            "contactKey": "u1",
            "attributeSets": [
                {"name": "Email Addresses", "values": [{"name": "Email Address", "value": "b@example.com"}]}
            ],
        },
    )
    assert by_key.status_code == 200 and by_key.get_json()["isNewContactKey"] is False
    by_id = tenant.call(
        "PATCH",
        PATH,
        json={
            "contactID": 1,
            "attributeSets": [{"name": "Demographics", "items": [{"values": [{"name": "City", "value": "Oslo"}]}]}],
        },
    )
    assert by_id.status_code == 200 and by_id.get_json()["contactKey"] == "u1"
    [contact] = contacts(client, tenant)
    assert contact["attributes"] == {
        "Email Addresses": {"Email Address": "b@example.com", "HTML Enabled": True},
        "Demographics": {"City": "Oslo"},
    }


def test_patch_of_an_unknown_contact_is_404(tenant, client):
    for body in ({"contactKey": "ghost", "attributeSets": []}, {"contactID": 99, "attributeSets": []}):
        response = tenant.call("PATCH", PATH, json=body)
        assert response.status_code == 404 and response.get_json()["errorcode"] == 30003
    assert contacts(client, tenant) == []


@pytest.mark.parametrize(
    "body, errorcode, needle",
    [
        ({"contactKey": "a:b", "attributeSets": []}, 10003, "may not contain ':'"),
        ({"attributeSets": []}, 10002, "contactKey is required"),
        ({"contactKey": "u1"}, 10002, "attributeSets is required"),
        ({"contactKey": "u1", "attributeSets": [{"items": []}]}, 10003, "needs a 'name'"),
        (
            {"contactKey": "u1", "attributeSets": [{"name": "S", "items": [{"values": [{"value": 1}]}]}]},
            10003,
            "needs a 'name' and a 'value'",
        ),
        ({"contactKey": "", "attributeSets": []}, 10002, "contactKey is required"),
        ({"contactKey": "x" * 255, "attributeSets": []}, 10003, "at most 254"),
    ],
)
def test_bad_contacts_are_400(tenant, client, body, errorcode, needle):
    response = tenant.call("POST", PATH, json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["errorcode"] == errorcode and needle in error["message"]
    assert contacts(client, tenant) == []


def test_contact_id_must_match_the_key(tenant):
    tenant.call("POST", PATH, json={"contactKey": "u1", "attributeSets": []})
    tenant.call("POST", PATH, json={"contactKey": "u2", "attributeSets": []})
    response = tenant.call("PATCH", PATH, json={"contactKey": "u1", "contactID": 2, "attributeSets": []})
    assert response.status_code == 400 and response.get_json()["errorcode"] == 10001


def test_scope_and_tenant_isolation(tenant_factory, client):
    reader = tenant_factory(packages=[{"scopes": ["list_and_subscribers_read"]}])
    refused = reader.call("POST", PATH, json={"contactKey": "u1", "attributeSets": []})
    assert refused.status_code == 403 and refused.get_json()["errorcode"] == 20002
    a, b = tenant_factory(), tenant_factory()
    assert a.call("POST", PATH, json={"contactKey": "same", "attributeSets": []}).get_json()["contactId"] == 1
    assert b.call("POST", PATH, json={"contactKey": "same", "attributeSets": []}).get_json()["contactId"] == 1
    assert b.call("PATCH", PATH, json={"contactKey": "other", "attributeSets": []}).status_code == 404
    client.post(f"/_emulator/tenants/{a.id}/reset")
    assert contacts(client, a) == [] and len(contacts(client, b)) == 1
