"""Fault rules reach the async worker: a stalled job stays Pending, a deadlock fails every row."""

from __future__ import annotations

import time

from tests.emulator.test_async_rows import finished, results, status, submit

ROWS = [{"Contact Key": "u1", "Email": "a@example.com"}, {"Contact Key": "u2", "Email": "b@example.com"}]


def test_async_stall_keeps_the_job_pending_until_the_rule_goes(tenant, client):
    tenant.settings(async_pickup_delay=0)
    rule = client.post(
        "/_emulator/faults", json={"kind": "async_stall", "tenant": tenant.id, "data_extension": "ident*"}
    ).get_json()
    request_id = submit(tenant, ROWS)
    time.sleep(0.5)  # the real worker thread gets several chances to run it
    assert status(tenant, request_id)["status"]["requestStatus"] == "Pending"
    assert tenant.rows("identify") == []
    assert client.delete(f"/_emulator/faults/{rule['id']}").status_code == 200
    assert finished(tenant, request_id)["requestStatus"] == "Complete"
    assert len(tenant.rows("identify")) == 2


def test_async_fail_rows_answers_each_row_with_a_deadlock(tenant, client):
    tenant.settings(async_pickup_delay=0)
    client.post("/_emulator/faults", json={"kind": "async_fail_rows", "tenant": tenant.id, "times": 1})
    failed = submit(tenant, ROWS)
    assert finished(tenant, failed)["resultStatus"] == "Has Errors"
    items = results(tenant, failed)["items"]
    assert [i["status"] for i in items] == ["Error", "Error"]
    assert all("deadlock" in i["message"].lower() for i in items)
    assert tenant.rows("identify") == []
    retried = submit(tenant, ROWS)  # the rule fired its one time: a retry goes through
    assert finished(tenant, retried)["resultStatus"] == "OK"
    assert len(tenant.rows("identify")) == 2
