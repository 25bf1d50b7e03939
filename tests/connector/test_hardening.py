"""The connector under the defects a new user found with the emulator's own fault rules: stalled async
jobs, deadlocked rows, date-like text, rows with nothing to write, borrowed identities, unbounded waits
and repeated contact creation. Each test failed on the connector before the fix."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from connector.cli import main as connector_cli
from connector.plan import DropReason, UpsertRow, plan
from connector.settings import ConversionEvent, Settings
from tests.connector.delivery_helpers import (
    CLICKS_DE,
    IDENTIFY_DE,
    ORDERS_DE,
    PRODUCT_ID,
    destination,
    fault,
    identify,
    sfmc_tenant,
)
from tests.fixtures import contact_de

BASE = {"client_id": "id-123", "client_secret": "s3cret"}
DATED_DE = contact_de("dated", "Dated", {"name": "Order Ref", "type": "Text"}, {"name": "Order Date", "type": "Date"})
KEY_ONLY_DE = contact_de("keyonly", "Key Only", PRODUCT_ID)


def journal(emulator, tenant, **pattern) -> list[dict]:
    response = emulator.admin("GET", "/journal", params={"tenant": tenant["id"], "limit": 100000, **pattern})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def calls(emulator, tenant, method: str, path_part: str) -> int:
    return sum(1 for e in journal(emulator, tenant) if e["method"] == method and path_part in e["path"])


def track(n: int, event: str = "Order Completed", **fields) -> dict:
    return {"type": "track", "event": event, "messageId": f"t-{n}", **fields}


# -- identity: never properties.email ----------------------------------------------------------------


def test_a_track_never_borrows_properties_email_as_its_contact_key():
    settings = Settings(
        **BASE,
        conversion_events=(ConversionEvent("Button Clicked", "clicks", uuid_primary_key=True),),
    )
    event = track(1, "Button Clicked", properties={"email": "someone-else@example.com", "buttonTitle": "Go"})
    result = plan(event, settings)
    assert not any(isinstance(op, UpsertRow) and "Contact Key" in op.values for op in result.operations)
    assert result.is_dropped and result.dropped[0].reason_code == DropReason.NO_IDENTIFIER


def test_a_track_takes_the_users_own_context_traits_email():
    settings = Settings(**BASE, conversion_events=(ConversionEvent("Button Clicked", "clicks", uuid_primary_key=True),))
    event = track(2, "Button Clicked", properties={"email": "x@example.com"}, context={"traits": {"email": "me@x.io"}})
    [row] = plan(event, settings).operations
    assert isinstance(row, UpsertRow) and row.values["Contact Key"] == "me@x.io"


# -- never empty values --------------------------------------------------------------------------------


def test_an_identify_without_traits_repeats_its_key_in_values():
    event = {"type": "identify", "userId": "u-1", "messageId": "m-1"}
    result = plan(event, Settings(**BASE, identify_de_key="identify", do_not_create_contacts=True))
    assert result.operations == (UpsertRow("identify", {"Contact Key": "u-1"}, {"Contact Key": "u-1"}, "m-1"),)
    assert any("repeated in values" in w for w in result.warnings)


def test_a_row_of_a_key_only_data_extension_never_has_empty_values():
    settings = Settings(
        **BASE, conversion_events=(ConversionEvent("Order Completed", "keyonly", ("Contact Key", "Product Id")),)
    )
    [row] = plan(track(3, userId="u-3", properties={"productId": "p-3"}), settings).operations
    assert isinstance(row, UpsertRow) and row.values == row.keys == {"Contact Key": "u-3", "Product Id": "p-3"}


def test_rows_reach_sfmc_with_values_naming_an_existing_column(emulator_server, tmp_path):
    """SFMC refuses a row whose values name no existing field, and every row after it in the rowset."""
    tenant = sfmc_tenant(emulator_server, data_extensions=[KEY_ONLY_DE, IDENTIFY_DE, ORDERS_DE, CLICKS_DE])
    dest = destination(
        emulator_server,
        tenant,
        tmp_path,
        do_not_create_contacts=True,
        conversion_events=[{"event": "Order Completed", "de_key": "keyonly", "primary_keys": "Contact Key,Product Id"}],
    )
    dest.accept(
        [
            track(4, userId="u-4", properties={"productId": "p-4", "shoeSize": 44}),  # no column for Shoe Size
            track(5, userId="u-5", properties={"productId": "p-5"}),  # keys only
            track(6, userId="u-6", properties={"productId": "p-6"}),
        ]
    )
    summary = dest.deliver_pending()
    assert summary.delivered == 3 and not summary.rejected
    keys = sorted((r["Contact Key"], r["Product Id"]) for r in emulator_server.rows(tenant["id"], "keyonly"))
    assert keys == [("u-4", "p-4"), ("u-5", "p-5"), ("u-6", "p-6")]
    sent = [item for e in journal(emulator_server, tenant) if "/rowset" in e["path"] for item in _body(e)]
    assert len(sent) == 3 and all(item["values"] for item in sent), sent


def _body(entry: dict) -> list[dict]:
    return json.loads(entry.get("request_body") or "[]")


# -- dates without guessing ------------------------------------------------------------------------------


def test_the_plan_never_rewrites_date_like_text():
    settings = Settings(**BASE, identify_de_key="identify")
    result = plan(
        {"type": "identify", "userId": "u", "traits": {"orderRef": "12-11-2020", "note": "05/06/2020"}}, settings
    )
    row = next(op for op in result.operations if isinstance(op, UpsertRow))
    assert row.values["Order Ref"] == "12-11-2020" and row.values["Note"] == "05/06/2020"


def test_dates_become_iso_only_for_date_columns_and_ambiguous_ones_are_rejected(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server, data_extensions=[DATED_DE, IDENTIFY_DE, ORDERS_DE, CLICKS_DE])
    dest = destination(emulator_server, tenant, tmp_path, identify_de_key="dated", do_not_create_contacts=True)
    dest.accept(
        [
            {"type": "identify", "userId": "a", "messageId": "a", "traits": {"orderRef": "12-11-2020"}},
            {"type": "identify", "userId": "b", "messageId": "b", "traits": {"orderDate": "05/30/2020"}},
            {"type": "identify", "userId": "c", "messageId": "c", "traits": {"orderDate": "05/06/2020"}},
            {
                "type": "identify",
                "userId": "d",
                "messageId": "d",
                "traits": {"orderDate": "Sat, 30 May 2020 13:30:00 GMT"},
            },
        ]
    )
    summary = dest.deliver_pending()
    assert summary.delivered == 3 and summary.rejected == {"ambiguous_date": 1}
    rows = {r["Contact Key"]: r for r in emulator_server.rows(tenant["id"], "dated")}
    assert rows["a"]["Order Ref"] == "12-11-2020"
    assert rows["b"]["Order Date"].startswith("2020-05-30")
    assert rows["d"]["Order Date"].startswith("2020-05-30")
    [rejected] = dest.outbox.listing("rejected")
    assert "05/06/2020" in rejected["reason"] and "day" in rejected["reason"]


# -- stalled async jobs, deadlocked rows -------------------------------------------------------------------


def batching_destination(emulator, tenant, tmp_path, **extra):
    return destination(
        emulator,
        tenant,
        tmp_path,
        do_not_create_contacts=True,
        batching={"enabled": True, "poll_interval": 0.05, "job_deadline": 0.5, **extra.pop("batching", {})},
        retry_delay=0.05,
        **extra,
    )


def test_a_stalled_async_job_is_abandoned_and_reported_while_other_rows_land(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    fault(emulator_server, tenant, kind="async_stall", data_extension="orders")
    dest = batching_destination(emulator_server, tenant, tmp_path, transient_retries=1)
    dest.accept([identify(1), identify(2), track(5, userId="u-5", properties={"productId": "p", "quantity": 1})])
    started = time.monotonic()
    summary = dest.deliver_pending()
    assert time.monotonic() - started < 15
    assert summary.delivered == 2 and summary.rejected == {"async_job_stalled": 1}
    assert len(emulator_server.rows(tenant["id"], "identify")) == 2
    result = CliRunner().invoke(connector_cli, ["status", "--outbox", dest.settings.outbox_path], env=_cli_env(dest))
    assert result.exit_code == 0, result.output
    assert "async_job_stalled" in result.output and "job_deadline" in result.output


def test_a_stall_that_ends_is_retried_and_delivered(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    fault(emulator_server, tenant, kind="async_stall", data_extension="orders", times=15)
    dest = batching_destination(emulator_server, tenant, tmp_path, transient_retries=5)
    dest.accept([track(6, userId="u-6", properties={"productId": "p", "quantity": 1})])
    summary = dest.deliver_pending()
    assert summary.delivered == 1 and summary.pending == 0
    assert len(emulator_server.rows(tenant["id"], "orders")) == 1


def test_deadlocked_async_rows_are_retried_and_land(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    fault(emulator_server, tenant, kind="async_fail_rows", data_extension="identify", times=2)
    dest = batching_destination(emulator_server, tenant, tmp_path)
    dest.accept([identify(i) for i in range(5)])
    summary = dest.deliver_pending()
    assert summary.delivered == 5 and not summary.rejected
    assert len(emulator_server.rows(tenant["id"], "identify")) == 5


def test_rows_that_stay_deadlocked_are_rejected_with_the_reason_after_the_limit(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    fault(emulator_server, tenant, kind="async_fail_rows", data_extension="identify")
    dest = batching_destination(emulator_server, tenant, tmp_path, transient_retries=2)
    dest.accept([identify(1)])
    summary = dest.deliver_pending()
    assert summary.rejected == {"transient_retries_exhausted": 1}
    [rejected] = dest.outbox.listing("rejected")
    assert "Rerun the transaction" in rejected["reason"] and "sent 3 times" in rejected["reason"]


def test_async_results_are_read_page_by_page(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    dest = batching_destination(emulator_server, tenant, tmp_path)
    events = [identify(i) for i in range(120)]
    events[110]["traits"]["createdAt"] = "not a date"  # one bad row, on the third page of 50
    dest.accept(events)
    summary = dest.deliver_pending()
    assert summary.delivered == 119 and sum(summary.rejected.values()) == 1
    assert dest.outbox.listing("rejected")[0]["message_id"] == "identify-110"
    assert calls(emulator_server, tenant, "GET", "/results") >= 3


# -- bounded waits, contacts once -------------------------------------------------------------------------------


def test_a_retry_after_wait_is_capped(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    fault(emulator_server, tenant, kind="blocked", path="/hub/v1/dataevents/*", retry_after=3600, times=1)
    waits: list[float] = []
    dest = destination(
        emulator_server, tenant, tmp_path, do_not_create_contacts=True, max_retry_after=0.2, max_backoff=0.5
    )
    dest.client._sleep = waits.append
    dest.accept([identify(1)])
    assert dest.deliver_pending().delivered == 1
    assert waits and max(waits) <= 0.5


def test_contacts_are_created_once(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    dest = destination(emulator_server, tenant, tmp_path)
    for rnd in range(3):
        dest.accept([identify(i) | {"messageId": f"r{rnd}-{i}"} for i in range(5)])
        assert dest.deliver_pending().delivered == 5
    assert calls(emulator_server, tenant, "POST", "/contacts/v1/contacts") == 5
    again = destination(emulator_server, tenant, tmp_path)  # a restarted connector remembers them too
    again.accept([identify(1) | {"messageId": "after-restart"}])
    assert again.deliver_pending().delivered == 1
    assert calls(emulator_server, tenant, "POST", "/contacts/v1/contacts") == 5


def _cli_env(dest) -> dict:
    s = dest.settings
    return {"SFMC_CLIENT_ID": s.client_id, "SFMC_CLIENT_SECRET": s.client_secret}
