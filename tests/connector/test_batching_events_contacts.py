"""Contacts, Journey Builder API events and SFMC batching through the async API, against a live emulator."""

from __future__ import annotations

from tests.connector.delivery_helpers import destination, identify, order, sfmc_tenant

EVENT_DEFINITION = {"key": "APIEvent-orders", "name": "Order Journey", "data_extension": "orders"}


def admin_items(emulator, tenant, what: str) -> list[dict]:
    response = emulator.admin("GET", f"/tenants/{tenant['id']}/{what}")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_identify_creates_the_contact_by_default(emulator_server, tmp_path):
    """ID-5: by default identify creates or updates the SFMC Contact (colons removed, ID-3)."""
    tenant = sfmc_tenant(emulator_server)
    dest = destination(emulator_server, tenant, tmp_path)
    dest.accept(
        [
            identify(1),
            identify(1) | {"messageId": "again"},
            {"type": "identify", "userId": "a:b:c", "messageId": "colon"},
        ]
    )
    assert dest.deliver_pending().delivered == 3
    keys = sorted(c["contactKey"] for c in admin_items(emulator_server, tenant, "contacts"))
    assert keys == ["abc", "user-1"]


def test_do_not_create_contacts_means_no_contact_calls(emulator_server, tmp_path):
    """ID-5: with "Do Not Create or Update Contacts" the DE row lands and no contact is made."""
    tenant = sfmc_tenant(emulator_server)
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)
    dest.accept([identify(1)])
    assert dest.deliver_pending().delivered == 1
    assert admin_items(emulator_server, tenant, "contacts") == []
    assert len(emulator_server.rows(tenant["id"], "identify")) == 1


def test_api_event_fires_journey_entry(emulator_server, tmp_path):
    """API-1: a configured event fires /interaction/v1/events with the contact key."""
    tenant = sfmc_tenant(emulator_server, event_definitions=[EVENT_DEFINITION])
    dest = destination(emulator_server, tenant, tmp_path, api_events={"Order Completed": "APIEvent-orders"})
    dest.accept([order(1, user="u:7", product="p1")])
    assert dest.deliver_pending().delivered == 1
    [entry] = admin_items(emulator_server, tenant, "journey-entries")
    assert entry["contactKey"] == "u7" and entry["eventDefinitionKey"] == "APIEvent-orders"


def test_batching_sends_rows_through_async_jobs_and_maps_row_errors(emulator_server, tmp_path):
    """BAT-1, BAT-2, BAT-4: one async request for many rows; API events and contacts are not used."""
    tenant = sfmc_tenant(emulator_server, event_definitions=[EVENT_DEFINITION])
    dest = destination(
        emulator_server,
        tenant,
        tmp_path,
        api_events={"Order Completed": "APIEvent-orders"},
        batching={"enabled": True, "poll_interval": 0.05},
    )
    events = [identify(i) for i in range(300)] + [order(1)]
    events[7]["traits"]["email"] = "broken"
    dest.accept(events)
    summary = dest.deliver_pending()
    assert summary.delivered == 300 and dict(summary.rejected) == {"row_refused": 1}
    assert "not a valid email address" in dest.outbox.listing("rejected")[0]["reason"]
    assert len(emulator_server.rows(tenant["id"], "identify")) == 299
    assert len(emulator_server.rows(tenant["id"], "orders")) == 1
    assert admin_items(emulator_server, tenant, "contacts") == []  # BAT-2
    assert admin_items(emulator_server, tenant, "journey-entries") == []  # BAT-2
    jobs = admin_items(emulator_server, tenant, "async-jobs")
    assert len(jobs) == 2  # one per Data Extension, not one per row
    puts = dest.client.stats.by_status.get("202", 0)
    assert puts == 2


def test_batching_without_the_async_api_is_reported_not_lost(emulator_server, tmp_path):
    """BAT-3: without the async API enabled SFMC drops batched data; the connector says so per event."""
    tenant = sfmc_tenant(
        emulator_server, settings={"rate_limit": 0, "async_api_enabled": False, "async_pickup_delay": 0}
    )
    dest = destination(
        emulator_server,
        tenant,
        tmp_path,
        batching={"enabled": True, "poll_interval": 0.05},
        do_not_create_contacts=True,
    )
    dest.accept([identify(i) for i in range(5)])
    summary = dest.deliver_pending()
    assert dict(summary.rejected) == {"async_job_failed": 5}
    assert "BAT-3" in dest.outbox.listing("rejected")[0]["reason"]
    assert emulator_server.rows(tenant["id"], "identify") == []
