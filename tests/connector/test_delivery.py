"""The connector against a live emulator: the seed's rules end to end, and delivery under faults."""

from __future__ import annotations

import pytest

from tests.connector.delivery_helpers import destination, identify, order, sfmc_tenant


@pytest.fixture
def tenant(emulator_server):
    return sfmc_tenant(emulator_server)


def deliver(dest, events):
    dest.accept(events)
    return dest.deliver_pending()


def test_identify_lands_title_cased_with_context_and_without_nested_objects(emulator_server, tenant, tmp_path):
    """ID-2, ID-3, ID-4, FMT-1, FMT-2, CTX-1."""
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)
    event = {
        "type": "identify",
        "userId": "user:42",
        "messageId": "m1",
        "traits": {
            "first_name": "Ann",
            "lastName": "Lee",
            "email": "ann@example.com",
            "createdAt": "2020-05-30T13:30:00+00:00",
            "address": {"city": "Paris"},
        },
        "context": {
            "ip": "10.1.2.3",
            "campaign": {"source": "newsletter"},
            "device": {"model": "Pixel 9"},
            "screen": {"width": 1080},
        },
    }
    summary = deliver(dest, [event])
    assert summary.delivered == 1
    [row] = emulator_server.rows(tenant["id"], "identify")
    assert row == {
        "Contact Key": "user42",
        "First Name": "Ann",
        "Last Name": "Lee",
        "Email": "ann@example.com",
        "Created At": "2020-05-30T13:30:00+00:00",
        "IP Address": "10.1.2.3",
        "UTM Source": "newsletter",
        "Device-model": "Pixel 9",
        "Screen Width": "1080",
    }
    writes = emulator_server.admin("GET", f"/tenants/{tenant['id']}/writes").json()["items"]
    assert writes == []  # nothing sent that the DE has no column for: no nested "Address"


def test_identify_falls_back_to_email_and_drops_events_without_ids(emulator_server, tenant, tmp_path):
    """ID-1, ID-2."""
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)
    summary = deliver(
        dest,
        [
            {"type": "identify", "messageId": "e1", "traits": {"email": "only@example.com"}},
            {"type": "identify", "messageId": "e2", "anonymousId": "anon", "traits": {"firstName": "Nobody"}},
        ],
    )
    assert summary.delivered == 1 and dict(summary.dropped) == {"no_identifier": 1}
    assert [r["Contact Key"] for r in emulator_server.rows(tenant["id"], "identify")] == ["only@example.com"]
    [dropped] = dest.outbox.listing("dropped")
    assert dropped["message_id"] == "e2" and "ID-1" in dropped["reason"]


def test_track_dedupes_on_composite_primary_key(emulator_server, tenant, tmp_path):
    """TR-1, TR-2, TR-3, TR-4: same (Contact Key, Product Id) keeps the latest values."""
    dest = destination(emulator_server, tenant, tmp_path)
    summary = deliver(
        dest,
        [
            order(1, product="p1"),
            order(2, product="p2"),
            order(3, product="p1"),
            {"type": "track", "event": "Not Configured", "userId": "u1", "messageId": "x"},
        ],
    )
    assert summary.delivered == 3 and dict(summary.dropped) == {"not_a_conversion_event": 1}
    rows = sorted(emulator_server.rows(tenant["id"], "orders"), key=lambda r: r["Product Id"])
    assert [(r["Contact Key"], r["Product Id"], r["Quantity"], r["Revenue"]) for r in rows] == [
        ("u1", "p1", "3", "13.00"),
        ("u1", "p2", "2", "12.00"),
    ]


def test_uuid_primary_key_makes_a_row_per_event(emulator_server, tenant, tmp_path):
    """TR-5."""
    dest = destination(emulator_server, tenant, tmp_path)
    clicks = [
        {
            "type": "track",
            "event": "Button Clicked",
            "userId": "u1",
            "messageId": f"click-{i}",
            "properties": {"buttonTitle": "Start"},
        }
        for i in range(3)
    ]
    assert deliver(dest, clicks).delivered == 3
    assert sorted(r["Uuid"] for r in emulator_server.rows(tenant["id"], "clicks")) == ["click-0", "click-1", "click-2"]


def test_sync_grouping_sends_50_rows_per_request(emulator_server, tenant, tmp_path):
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)
    summary = deliver(dest, [identify(i) for i in range(120)])
    assert summary.delivered == 120
    assert dest.client.stats.by_status == {"200": 4}  # the DE's column types once, then 50 + 50 + 20 rows
    assert len(emulator_server.rows(tenant["id"], "identify")) == 120


def test_a_bad_row_is_rejected_with_sfmcs_reason_and_the_others_land(emulator_server, tenant, tmp_path):
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)
    events = [identify(i) for i in range(10)]
    events[4]["traits"]["email"] = "not-an-email"
    summary = deliver(dest, events)
    assert summary.delivered == 9 and sum(summary.rejected.values()) == 1
    [rejected] = dest.outbox.listing("rejected")
    assert rejected["message_id"] == "identify-4"
    assert "[Email] is not a valid email address" in rejected["reason"]
    assert len(emulator_server.rows(tenant["id"], "identify")) == 9


def test_missing_data_extension_is_a_rejection_not_a_loss(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server, data_extensions=[])
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)
    summary = deliver(dest, [identify(1)])
    assert dict(summary.rejected) == {"rows_refused_404": 1}
    assert "identify" in dest.outbox.listing("rejected")[0]["reason"]


def test_rate_limit_storm_is_retried_with_retry_after(emulator_server, tmp_path):
    """RL-1: a connector allowed to go faster than the account meets 429s and still delivers everything."""
    tenant = sfmc_tenant(emulator_server, settings={"rate_limit": 10, "burst": 2})
    dest = destination(
        emulator_server, tenant, tmp_path, do_not_create_contacts=True, sync_group_size=1, rate_limit=200
    )
    summary = deliver(dest, [identify(i) for i in range(12)])
    assert summary.delivered == 12 and summary.pending == 0
    assert dest.client.stats.throttled > 0 and dest.client.stats.retries >= dest.client.stats.throttled
    assert len(emulator_server.rows(tenant["id"], "identify")) == 12


def test_client_side_limiter_avoids_429s(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server, settings={"rate_limit": 20, "burst": 20})
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True, sync_group_size=1, rate_limit=20)
    assert deliver(dest, [identify(i) for i in range(30)]).delivered == 30
    assert dest.client.stats.throttled == 0


def test_expired_token_is_refreshed(emulator_server, tenant, tmp_path):
    dest = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)
    assert deliver(dest, [identify(1)]).delivered == 1
    emulator_server.clock.advance(1300)  # past the token's 20 minutes: SFMC answers 401
    assert deliver(dest, [identify(2)]).delivered == 1
    assert dest.client.stats.by_status["401"] == 1 and dest.client.stats.token_requests == 2


def test_unreachable_sfmc_keeps_events_pending_then_resumes(emulator_server, tenant, tmp_path):
    dest = destination(
        emulator_server,
        tenant,
        tmp_path,
        do_not_create_contacts=True,
        max_retries=1,
        rest_base_url="http://127.0.0.1:9",
    )  # nothing listens there
    dest.client._sleep = lambda s: None
    summary = deliver(dest, [identify(i) for i in range(5)])
    assert summary.pending == 5 and summary.stopped_because and "network error" in summary.stopped_because
    fixed = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True)  # same outbox file
    assert fixed.deliver_pending().delivered == 5
    assert len(emulator_server.rows(tenant["id"], "identify")) == 5


def test_replayed_events_are_not_sent_twice(emulator_server, tenant, tmp_path):
    dest = destination(emulator_server, tenant, tmp_path)
    assert dest.accept([order(1), order(1)]) == (1, 1)
    assert dest.deliver_pending().delivered == 1
    assert dest.accept([order(1)]) == (0, 1)


def test_legacy_auth_without_subdomain(emulator_server, tenant, tmp_path):
    """AUTH-2: without a subdomain the legacy v1 endpoint is used."""
    dest = destination(
        emulator_server,
        tenant,
        tmp_path,
        do_not_create_contacts=True,
        subdomain=None,
        rest_base_url=emulator_server.url,
    )
    assert deliver(dest, [identify(1)]).delivered == 1
    assert dest.client.stats.token_requests == 1


def test_account_id_selects_the_business_unit(emulator_server, tmp_path):
    """AUTH-3: a MID that is not the account's fails authentication; the pending events wait."""
    tenant = sfmc_tenant(emulator_server, business_units=[{"mid": 5001}, {"mid": 5002}])
    good = destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True, account_id="5002")
    assert deliver(good, [identify(1)]).delivered == 1
    (tmp_path / "other").mkdir()
    bad = destination(emulator_server, tenant, tmp_path / "other", do_not_create_contacts=True, account_id="9999")
    summary = deliver(bad, [identify(2)])
    assert summary.pending == 1 and "authentication failed (401)" in summary.stopped_because
