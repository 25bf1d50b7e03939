"""Async Data Extension rows (BAT-1, BAT-3, BAT-4): 202 + requestId, status on the emulator clock, per-row results."""

from __future__ import annotations

import gc
import time

import pytest

from tests.fixtures import IDENTIFY_FIELDS

ROWS_PATH = "/data/v1/async/dataextensions/key:identify/rows"


def wait_for(check, timeout: float = 10.0):
    """Wait for the emulator's worker thread (real concurrency, not emulated time)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "the async worker did not get there in time"
        time.sleep(0.01)


def status(tenant, request_id: str) -> dict:
    response = tenant.call("GET", f"/data/v1/async/{request_id}/status")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def finished(tenant, request_id: str) -> dict:
    def done():
        body = status(tenant, request_id)
        return body if body.get("status", {}).get("requestStatus") in ("Complete", "Error") else None

    return wait_for(done)["status"]


def latest_job(tenant) -> str:
    """The newest async job of the tenant (the hub twins answer no requestId: ask the control plane)."""
    jobs = tenant.client.get(f"/_emulator/tenants/{tenant.id}/async-jobs").get_json()["items"]
    return jobs[-1]["id"]  # oldest first


def results(tenant, request_id: str, query: str = "") -> dict:
    response = tenant.call("GET", f"/data/v1/async/{request_id}/results{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def submit(tenant, items, method: str = "PUT", path: str = ROWS_PATH) -> str:
    response = tenant.call(method, path, json={"items": items})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["resultMessages"] == [] and len(body["requestId"]) == 36
    return body["requestId"]


@pytest.fixture
def fast(tenant):
    tenant.settings(async_pickup_delay=0)
    return tenant


def test_upsert_flat_rows_lands_every_good_row_and_reports_each_row_in_order(fast):
    request_id = submit(
        fast,
        [
            {"contact key": "u1", "Email": "a@example.com", "Age": 41},
            {"Contact Key": "u2", "Email": "not-an-email"},
            {"Email": "b@example.com"},
            {"Contact Key": "u3", "First Name": "Ann", "Opted In": "yes"},
        ],
    )
    state = finished(fast, request_id)
    assert state["requestStatus"] == "Complete" and state["resultStatus"] == "Has Errors" and state["hasErrors"]
    assert state["requestId"] == request_id and state["pickupDateTime"] and state["completionDateTime"]
    body = results(fast, request_id)
    assert body["count"] == 4 and body["page"] == 1 and body["pageSize"] == 50 and body["requestId"] == request_id
    assert [i["status"] for i in body["items"]] == ["OK", "Error", "Error", "OK"]
    assert "not a valid email address" in body["items"][1]["message"]
    assert body["items"][2]["message"] == "Cannot locate the existing record. Required keys are missing."
    assert body["items"][2]["errors"][0]["errorMessage"] == "Column [contact key] does not allow null value."
    assert {r["Contact Key"]: r.get("Age") for r in fast.rows("identify")} == {"u1": "41", "u3": None}
    assert [r["Opted In"] for r in fast.rows("identify") if r["Contact Key"] == "u3"] == ["True"]


def test_clean_job_is_ok_and_upsert_keeps_unsent_columns(fast):
    assert (
        fast.rowset(
            "identify", [{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@example.com", "Age": 30}}]
        ).status_code
        == 200
    )
    request_id = submit(fast, [{"Contact Key": "U1", "Age": 31}])
    state = finished(fast, request_id)
    assert (state["requestStatus"], state["resultStatus"], state["hasErrors"]) == ("Complete", "OK", False)
    [row] = fast.rows("identify")
    assert row["Contact Key"] == "u1" and row["Age"] == "31" and row["Email"] == "a@example.com"


def test_integers_beyond_64_bits_reach_the_rules_as_integers(fast):
    """A job's items are stored and read back exactly: a 30-digit integer stays an integer (its
    digits in a Text column, out of range for a Number), as the sync rowset path sees it."""
    big = 123456789012345678901234567890
    request_id = submit(
        fast,
        [{"Contact Key": "big", "First Name": 2**80}, {"Contact Key": "range", "Age": big}, {"Contact Key": "ok"}],
    )
    finished(fast, request_id)
    items = results(fast, request_id)["items"]
    assert [i["status"] for i in items] == ["Error", "Error", "OK"]
    too_long = "is too long (25 characters, the column allows 20)."
    assert items[0]["message"] == f"First Name: The value for column [First Name] {too_long}"
    assert items[1]["message"] == "Age: The value for column [Age] is out of range for a Number."


def test_insert_refuses_duplicate_keys_per_row_never_the_job(fast):
    assert fast.rowset("identify", [{"keys": {"Contact Key": "old"}, "values": {"Age": 1}}]).status_code == 200
    request_id = submit(fast, [{"Contact Key": "old"}, {"Contact Key": "new"}, {"Contact Key": "NEW"}], "POST")
    assert finished(fast, request_id)["requestStatus"] == "Complete"
    items = results(fast, request_id)["items"]
    assert [i["status"] for i in items] == ["Error", "OK", "Error"]
    assert "Violation of PRIMARY KEY constraint" in items[0]["message"]
    assert items[0]["errorCode"] == "UnexpectedError"
    assert sorted(r["Contact Key"] for r in fast.rows("identify")) == ["new", "old"]


def test_by_id_and_id_prefix(fast, client):
    de_id = client.get(f"/_emulator/tenants/{fast.id}/data-extensions").get_json()["items"][0]["id"]
    first = submit(fast, [{"Contact Key": "a"}], path=f"/data/v1/async/dataextensions/{de_id}/rows")
    second = submit(fast, [{"Contact Key": "b"}], path=f"/data/v1/async/dataextensions/id:{de_id}/rows")
    for request_id in (first, second):
        assert finished(fast, request_id)["resultStatus"] == "OK"
    assert sorted(r["Contact Key"] for r in fast.rows("identify")) == ["a", "b"]


def test_status_is_absent_until_the_pickup_delay_passes_on_the_emulator_clock(tenant, client):
    tenant.settings(async_pickup_delay=300)
    client.post("/_emulator/clock", json={"freeze": True})
    request_id = submit(tenant, [{"Contact Key": "a"}])
    body = status(tenant, request_id)
    assert "status" not in body and body["requestId"] != request_id and body["resultMessages"] == []
    assert results(tenant, request_id)["count"] == 0
    assert tenant.rows("identify") == []
    client.post("/_emulator/clock", json={"advance": 300})
    state = finished(tenant, request_id)
    assert state["requestStatus"] == "Complete"
    assert state["pickupDateTime"] >= state["callDateTime"]
    called = client.get(f"/_emulator/tenants/{tenant.id}/async-jobs/{request_id}").get_json()
    assert called["picked_up_at"] - called["called_at"] == pytest.approx(300)


def test_a_job_behind_another_is_pending(app, tenant):
    tenant.settings(async_pickup_delay=0)
    jobs = app.extensions["sfmc"].async_rows
    jobs.stop()  # drive the worker's steps by hand to see the state between them
    first, second = submit(tenant, [{"Contact Key": "a"}]), submit(tenant, [{"Contact Key": "b"}])
    assert "status" not in status(tenant, first)
    jobs.run_due()  # picks both up, runs the older one
    assert status(tenant, first)["status"]["requestStatus"] == "Complete"
    pending = status(tenant, second)["status"]
    assert pending["requestStatus"] == "Pending" and pending["pickupDateTime"] and "completionDateTime" not in pending
    jobs.run_due()
    assert status(tenant, second)["status"]["requestStatus"] == "Complete"


def test_async_api_disabled_acknowledges_then_drops_and_says_why(fast, client):
    """BAT-3: without the async API the request is accepted, ends in Error, and no row lands."""
    fast.settings(async_api_enabled=False)
    request_id = submit(fast, [{"Contact Key": "a"}, {"Contact Key": "b"}])
    state = finished(fast, request_id)
    assert (state["requestStatus"], state["resultStatus"], state["hasErrors"]) == ("Error", "Has Errors", True)
    body = results(fast, request_id)
    assert [i["status"] for i in body["items"]] == ["Error", "Error"]
    assert "not enabled" in body["resultMessages"][0]["message"]
    assert fast.rows("identify") == []
    job = client.get(f"/_emulator/tenants/{fast.id}/async-jobs/{request_id}").get_json()
    assert job["state"] == "Error" and "BAT-3" in job["reason"] and job["saved_count"] == 0
    writes = client.get(f"/_emulator/tenants/{fast.id}/writes").get_json()["items"]
    assert writes[0]["async_request_id"] == request_id and "not enabled" in writes[0]["problems"][0]


def test_strict_tenant_fails_rows_with_unknown_columns(fast):
    fast.settings(strict_columns=True)
    request_id = submit(fast, [{"Contact Key": "a", "Nickname": "x"}, {"Contact Key": "b"}])
    finished(fast, request_id)
    items = results(fast, request_id)["items"]
    assert items[0]["status"] == "Error" and "[Nickname] does not exist" in items[0]["message"]
    assert items[1]["status"] == "OK"


def test_results_paging(fast):
    request_id = submit(fast, [{"Contact Key": f"k{i}", "Age": "x" if i == 3 else i} for i in range(5)])
    finished(fast, request_id)
    page = results(fast, request_id, "?$page=2&$pageSize=2")
    assert (page["page"], page["pageSize"], page["count"]) == (2, 2, 5)
    assert [i["status"] for i in page["items"]] == ["OK", "Error"]
    assert len(results(fast, request_id, "?$pageSize=3")["items"]) == 3
    bad = fast.call("GET", f"/data/v1/async/{request_id}/results?$page=0")
    assert bad.status_code == 400 and bad.get_json()["resultMessages"][0]["resultCode"] == "InvalidRequest"


def test_unknown_data_extension_and_request_id_use_the_async_envelope(fast, tenant_factory):
    response = fast.call("PUT", "/data/v1/async/dataextensions/key:nope/rows", json={"items": [{"A": 1}]})
    assert response.status_code == 400
    [message] = response.get_json()["resultMessages"]
    assert message["resultCode"] == "CustomObjectNotFound" and message["resultClass"] == "Error"
    assert message["message"].startswith("Failed to resolve the Custom Object")
    bad_id = fast.call("PUT", "/data/v1/async/dataextensions/not-a-guid/rows", json={"items": [{"A": 1}]})
    assert bad_id.get_json()["resultMessages"][0]["resultCode"] == "CustomObjectNotFound"
    missing = fast.call("GET", "/data/v1/async/00000000-0000-0000-0000-000000000000/status")
    assert missing.status_code == 404
    assert missing.get_json()["resultMessages"][0]["resultCode"] == "AsyncRequestStatusNotFound"
    request_id = submit(fast, [{"Contact Key": "a"}])
    other = tenant_factory()
    assert other.call("GET", f"/data/v1/async/{request_id}/status").status_code == 404
    assert other.call("GET", f"/data/v1/async/{request_id}/results").status_code == 404


def test_item_limits_and_body_shape(fast):
    too_many = fast.call("PUT", ROWS_PATH, json={"items": [{}] * 32_001})
    assert too_many.status_code == 400
    assert too_many.get_json()["resultMessages"][0]["resultCode"] == "MaxItemsExceeded"
    for body in ({"items": []}, {"rows": [{"Contact Key": "a"}]}):
        response = fast.call("PUT", ROWS_PATH, json=body)
        assert response.status_code == 400 and response.get_json()["resultMessages"][0]["resultCode"]
    not_objects = fast.call("PUT", ROWS_PATH, json={"items": [1, 2]})
    assert not_objects.status_code == 400 and "resultMessages" in not_objects.get_json()
    unparseable = fast.call("PUT", ROWS_PATH, data="{", content_type="application/json")
    assert unparseable.status_code == 400 and "resultMessages" in unparseable.get_json()


def test_the_full_32000_items_are_accepted_and_processed(fast):
    request_id = submit(fast, [{"Contact Key": f"u{i}", "Age": i} for i in range(32_000)])
    assert finished(fast, request_id)["resultStatus"] == "OK"
    assert results(fast, request_id)["count"] == 32_000
    assert len(fast.rows("identify")) == 10_000  # the admin page size; the count says all landed
    count = fast.client.get(f"/_emulator/tenants/{fast.id}/data-extensions/identify/rows?page_size=1").get_json()
    assert count["count"] == 32_000
    assert gc.isenabled()  # the worker ran the bulk job with the collector paused, then gave it back


def test_hub_async_rowset_and_row_share_the_job_machinery(fast):
    response = fast.call(
        "POST",
        "/hub/v1/dataeventsasync/key:identify/rowset",
        json=[
            {"keys": {"Contact Key": "a"}, "values": {"Email": "a@example.com"}},
            {"keys": {"Contact Key": "b"}, "values": {"Age": "old"}},
        ],
    )
    assert response.status_code == 202 and response.get_data() == b""  # SFMC's answer carries no body
    request_id = latest_job(fast)
    assert finished(fast, request_id)["resultStatus"] == "Has Errors"
    assert [i["status"] for i in results(fast, request_id)["items"]] == ["OK", "Error"]
    put = fast.call("PUT", "/hub/v1/dataeventsasync/key:identify/rows/Contact Key:c", json={"values": {"Age": 5}})
    assert put.status_code == 202
    assert finished(fast, latest_job(fast))["resultStatus"] == "OK"
    assert sorted(r["Contact Key"] for r in fast.rows("identify")) == ["a", "c"]
    missing = fast.call("POST", "/hub/v1/dataeventsasync/key:nope/rowset", json=[{"keys": {}, "values": {}}])
    assert missing.status_code == 404 and missing.get_json()["errorcode"] == 30003


def test_scopes(tenant_factory):
    reader = tenant_factory(packages=[{"scopes": ["data_extensions_read"]}])
    response = reader.call("PUT", ROWS_PATH, json={"items": [{"Contact Key": "a"}]})
    assert response.status_code == 403 and response.get_json()["errorcode"] == 20002


def test_admin_lists_jobs_and_reset_clears_them(fast, client):
    request_id = submit(fast, [{"Contact Key": "a"}, {"Contact Key": ""}])
    finished(fast, request_id)
    listing = client.get(f"/_emulator/tenants/{fast.id}/async-jobs").get_json()
    [job] = listing["items"]
    assert job["id"] == request_id and job["requestStatus"] == "Complete" and listing["queue_depth"] == 0
    assert (job["item_count"], job["saved_count"], job["failed_count"]) == (2, 1, 1)
    assert list(job["failures"]) == ["1"]
    assert client.post(f"/_emulator/tenants/{fast.id}/reset").status_code == 200
    assert client.get(f"/_emulator/tenants/{fast.id}/async-jobs").get_json()["items"] == []
    fast.get_token()  # reset revoked the tokens too
    assert fast.call("GET", f"/data/v1/async/{request_id}/status").status_code == 404


def test_queue_depth_metric_counts_waiting_jobs(tenant, client):
    tenant.settings(async_pickup_delay=3600)
    submit(tenant, [{"Contact Key": "a"}])
    metrics = client.get("/_emulator/metrics").get_data(as_text=True)
    assert "sfmc_emulator_async_queue_depth 1.0" in metrics


def test_tenant_defined_without_primary_key_appends(tenant_factory):
    tenant = tenant_factory(
        settings={"rate_limit": 0, "async_pickup_delay": 0},
        data_extensions=[
            {"key": "log", "name": "Log", "fields": [f for f in IDENTIFY_FIELDS if not f.get("isPrimaryKey")]}
        ],
    )
    request_id = submit(
        tenant,
        [{"Email": "a@example.com"}, {"Email": "a@example.com"}],
        path="/data/v1/async/dataextensions/key:log/rows",
    )
    assert finished(tenant, request_id)["resultStatus"] == "OK"
    assert len(tenant.rows("log")) == 2
