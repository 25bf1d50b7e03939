"""An async job answered 202 is on disk: it survives kill -9 and runs after a restart (BAT-3: never lose data)."""

from __future__ import annotations

import time

import requests

from emulator import Config, Emulator
from emulator.clock import Clock
from emulator.domain.async_rows import EXECUTING, FLAT, new_job
from emulator.store import open_store

SCENARIO = """
tenants:
  - id: durable
    packages:
      - {client_id: durable-id, client_secret: durable-secret}
    settings: {rate_limit: 0, async_pickup_delay: 3600}
    data_extensions:
      - key: people
        name: People
        fields:
          - {name: Contact Key, type: Text, primary_key: true}
          - {name: Age, type: Number}
"""


def token_for(url: str) -> str:
    response = requests.post(
        f"{url}/v2/token",
        json={"grant_type": "client_credentials", "client_id": "durable-id", "client_secret": "durable-secret"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def wait_complete(url: str, headers: dict, request_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{url}/data/v1/async/{request_id}/status", headers=headers, timeout=10).json()
        if body.get("status", {}).get("requestStatus") in ("Complete", "Error"):
            return body["status"]
        time.sleep(0.05)
    raise AssertionError(f"job {request_id} did not finish")


def test_a_queued_job_survives_kill_and_completes_after_restart(live_server_factory, tmp_path):
    db, scenario = str(tmp_path / "x.sqlite3"), tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    first = live_server_factory("--db", db, "--scenario", str(scenario))
    headers = {"Authorization": f"Bearer {token_for(first.url)}"}
    path = "/data/v1/async/dataextensions/key:people/rows"
    upsert = requests.put(
        f"{first.url}{path}",
        headers=headers,
        timeout=10,
        json={"items": [{"Contact Key": "a", "Age": 1}, {"Contact Key": "b", "Age": "x"}]},
    )
    insert = requests.post(f"{first.url}{path}", headers=headers, timeout=10, json={"items": [{"Contact Key": "c"}]})
    assert upsert.status_code == insert.status_code == 202
    ids = [upsert.json()["requestId"], insert.json()["requestId"]]
    assert (
        "status" not in requests.get(f"{first.url}/data/v1/async/{ids[0]}/status", headers=headers, timeout=10).json()
    )
    first.kill()

    second = live_server_factory("--db", db, "--scenario", str(scenario))
    jobs = requests.get(f"{second.url}/_emulator/tenants/durable/async-jobs", timeout=10).json()
    assert [j["id"] for j in jobs["items"]] == ids and jobs["queue_depth"] == 2
    assert {j["state"] for j in jobs["items"]} == {"Queued"}
    requests.post(f"{second.url}/_emulator/clock", json={"advance": 3600}, timeout=10).raise_for_status()
    headers = {"Authorization": f"Bearer {token_for(second.url)}"}  # the hour also expired the old token
    assert wait_complete(second.url, headers, ids[0])["resultStatus"] == "Has Errors"
    assert wait_complete(second.url, headers, ids[1])["resultStatus"] == "OK"
    items = requests.get(f"{second.url}/data/v1/async/{ids[0]}/results", headers=headers, timeout=10).json()["items"]
    assert [i["status"] for i in items] == ["OK", "Error"]
    rows = requests.get(f"{second.url}/_emulator/tenants/durable/data-extensions/people/rows", timeout=10).json()
    assert sorted((r["Contact Key"], r.get("Age")) for r in rows["items"]) == [("a", "1"), ("c", None)]


def test_a_job_cut_off_while_executing_runs_again_on_start(tmp_path):
    """Rows and a job's outcome commit together, so a job still marked Executing wrote nothing: run it again."""
    path = str(tmp_path / "x.sqlite3")
    before = Emulator(open_store(path), Clock(), Config())
    before.create_tenant(
        {
            "id": "t",
            "settings": {"async_pickup_delay": 0},
            "data_extensions": [
                {
                    "key": "people",
                    "name": "People",
                    "fields": [{"name": "Contact Key", "type": "Text", "primary_key": True}],
                }
            ],
        }
    )
    de = before.find_data_extension("t", key="people")
    job = new_job(
        "t", de, insert_only=True, shape=FLAT, source="async insert", now=before.clock.now(), pickup_delay=0, count=2
    )
    before.store.put_async_job(
        {**job, "state": EXECUTING, "picked_up_at": job["called_at"]}, [{"Contact Key": "a"}, {"Contact Key": "a"}]
    )
    before.store.close()

    after = Emulator(open_store(path), Clock(), Config())
    assert after.async_queue_depth() == 1
    after.async_rows.start()
    deadline = time.monotonic() + 10
    while after.async_rows.get("t", job["id"])["state"] != "Complete":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    after.async_rows.stop()
    done = after.async_rows.get("t", job["id"])
    assert (done["saved_count"], list(done["failures"])) == (1, ["1"])  # the in-request duplicate, nothing else
    rows, total = after.store.query_rows("t", de.id, None, 0, 10)
    assert total == 1 and rows == [{"Contact Key": "a"}]
    assert after.store.async_job_items("t", job["id"]) is None  # items are dropped once the job finished
