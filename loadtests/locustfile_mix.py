"""An SFMC client mix against one tenant: what a Segment-style integration sends, in proportion.

Tokens, 1-row and 50-row rowset upserts, single-row PUTs, async submits followed by status polls
and results, Journey Builder API events, contact upserts, and reads. Throttling is off for this
tenant by default (LOADTEST_RATE_LIMIT=0): the mix measures the emulator's service, the throttle
scenario its limit.

Routes that not every emulator build has (the async API, API events, contacts) are probed once in
``test_start`` with a valid call; a route that does not answer as the contract says is reported
as "not available" in the report's notes and its task is skipped, never counted as a failure.

    python -m loadtests.run mix --seconds 30 --users 10

Environment: LOADTEST_RATE_LIMIT (0 = off), LOADTEST_ASYNC_ITEMS (items per async submit, 200).
"""

from __future__ import annotations

import time

from locust import between, events, task

from loadtests import common, recorder
from loadtests.sfmc_user import RUN_ID, SfmcUser, Tenant, unique_key

RECORDER = recorder.attach(events)
LIMIT = common.env_float("LOADTEST_RATE_LIMIT", 0.0)
ASYNC_ITEMS = common.env_int("LOADTEST_ASYNC_ITEMS", 200)
EVENT_DE = "loadtest-event"
EVENT_KEY = "loadtest-api-event"
EVENT_FIELDS = [
    {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
    {"name": "Plan", "type": "Text"},
]
AVAILABLE: dict[str, bool] = {}


def flat(key: str, i: int = 0) -> dict:
    item = common.row(key, i)
    return {**item["keys"], **item["values"]}


def probe(environment, tenant: Tenant) -> dict[str, str]:
    """Which optional routes answer as the contract says: one valid call each."""
    import requests

    host, headers = environment.host, tenant.auth
    checks = {
        "async": (
            "PUT",
            f"/data/v1/async/dataextensions/key:{common.DE_KEY}/rows",
            {"items": [flat(unique_key("probe"))]},
            202,
        ),
        "events": (
            "POST",
            "/interaction/v1/events",
            {"ContactKey": unique_key("probe"), "EventDefinitionKey": EVENT_KEY, "Data": {"Plan": "pro"}},
            201,
        ),
        "contacts": ("POST", "/contacts/v1/contacts", {"contactKey": unique_key("probe"), "attributeSets": []}, 200),
    }
    found = {}
    for name, (method, path, body, expected) in checks.items():
        try:
            response = requests.request(method, host + path, json=body, headers=headers, timeout=10)
            status = response.status_code
        except requests.RequestException as err:
            status, response = 0, err
        AVAILABLE[name] = status == expected
        found[name] = "available" if status == expected else f"not available (probe answered {status})"
    return found


@events.test_start.add_listener
def create_tenant(environment, **_kwargs):
    raw = common.ensure_tenant(
        environment.host,
        f"lt-mix-{RUN_ID}",
        {"rate_limit": LIMIT, "burst": max(LIMIT, 1.0), "async_pickup_delay": 0},
        data_extensions=[
            {"key": common.DE_KEY, "name": "Loadtest Identify", "fields": common.FIELDS},
            {"key": EVENT_DE, "name": "Loadtest Event", "fields": EVENT_FIELDS},
        ],
        event_definitions=[{"key": EVENT_KEY, "name": "Loadtest API Event", "data_extension": EVENT_DE}],
    )
    SfmcClient.tenant = Tenant(raw, environment.host)
    RECORDER.note("routes", probe(environment, SfmcClient.tenant))
    RECORDER.note("rate_limit", {"limit": LIMIT, "burst": max(LIMIT, 1.0), "tenants": [raw["id"]]})


class SfmcClient(SfmcUser):
    wait_time = between(0.01, 0.1)

    @task(1)
    def token(self):
        self.client.post(
            "/v2/token",
            name="token",
            json={
                "grant_type": "client_credentials",
                "client_id": self.tenant.client_id,
                "client_secret": self.tenant.client_secret,
            },
        )

    @task(6)
    def rowset_1(self):
        self.rowset([common.row(unique_key("mix"))], "rowset 1 row")

    @task(2)
    def rowset_50(self):
        self.rowset([common.row(unique_key("mix"), i) for i in range(50)], "rowset 50 rows")

    @task(2)
    def put_row(self):
        item = common.row(unique_key("mix"))
        self.client.put(
            f"/hub/v1/dataevents/key:{common.DE_KEY}/rows/Contact Key:{item['keys']['Contact Key']}",
            json={"values": item["values"]},
            headers=self.tenant.auth,
            name="row PUT",
        )

    @task(2)
    def read(self):
        self.client.get(
            f"/data/v1/customobjectdata/key/{common.DE_KEY}/rowset?$page=1&$pageSize=50",
            headers=self.tenant.auth,
            name="read rowset",
        )

    @task(1)
    def async_submit_and_poll(self):
        if not AVAILABLE.get("async"):
            return
        items = [flat(unique_key("async"), i) for i in range(ASYNC_ITEMS)]
        submitted = self.client.put(
            f"/data/v1/async/dataextensions/key:{common.DE_KEY}/rows",
            json={"items": items},
            headers=self.tenant.auth,
            name="async submit",
        )
        if submitted.status_code != 202:
            return
        request_id = submitted.json()["requestId"]
        for _ in range(20):  # bounded: at most 20 polls, 0.1 s apart
            status = self.client.get(
                f"/data/v1/async/{request_id}/status", headers=self.tenant.auth, name="async status"
            )
            state = (status.json() or {}).get("status", {}).get("requestStatus") if status.status_code == 200 else None
            if state in ("Complete", "Error"):
                self.client.get(f"/data/v1/async/{request_id}/results", headers=self.tenant.auth, name="async results")
                return
            time.sleep(0.1)

    @task(1)
    def api_event(self):
        if not AVAILABLE.get("events"):
            return
        self.client.post(
            "/interaction/v1/events",
            name="API event",
            headers=self.tenant.auth,
            json={"ContactKey": unique_key("evt"), "EventDefinitionKey": EVENT_KEY, "Data": {"Plan": "pro"}},
        )

    @task(1)
    def contact(self):
        if not AVAILABLE.get("contacts"):
            return
        self.client.post(
            "/contacts/v1/contacts",
            name="contact upsert",
            headers=self.tenant.auth,
            json={"contactKey": unique_key("ct"), "attributeSets": []},
        )
