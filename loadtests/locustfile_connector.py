"""Connector end to end: Segment batches into ``sfmc-connector serve``, delivered to SFMC at its limit.

The run CLI starts the emulator, creates a tenant limited to 20 requests/second (burst 20) with an
Identify and an Orders Data Extension, writes the connector's settings and starts
``python -m connector serve`` in front of it; locust's host is the connector, not the emulator.
Each user posts LOADTEST_USER_RPS ``/v1/batch`` requests per second (``paced``, on a random phase),
each holding LOADTEST_BATCH_EVENTS events, half identify calls, half ``Order Completed`` tracks
(a conversion event, TR-1), every one with its own Contact Key so each becomes one new row.

The connector answers once the events are in its outbox, then delivers them in the background,
paced at the settings' ``rate_limit`` in 50-row rowsets: what locust measures here is the ingest,
what SFMC receives the run CLI reads back from the emulator (traffic, stats and journal).

    python -m loadtests.run connector --seconds 20

Environment: LOADTEST_SECONDS (20), LOADTEST_USERS (offered /v1/batch requests per second, 50),
LOADTEST_BATCH_EVENTS (20), LOADTEST_USER_RPS (4), LOADTEST_WRITE_KEY (the connector's write key).
"""

from __future__ import annotations

import base64
import os

from locust import LoadTestShape, events, task

from loadtests import common, recorder
from loadtests.sfmc_user import SfmcUser, paced, unique_key

RECORDER = recorder.attach(events)
SECONDS = common.env_float("LOADTEST_SECONDS", 20.0)
OFFERED = common.env_int("LOADTEST_USERS", 50)
BATCH_EVENTS = common.env_int("LOADTEST_BATCH_EVENTS", 20)
USER_RPS = common.env_float("LOADTEST_USER_RPS", 4.0)
WRITE_KEY = os.environ.get("LOADTEST_WRITE_KEY", "loadtest")
# fewer, busier users: the connector's waitress serves a bounded number of connections too
USERS = max(1, round(OFFERED / USER_RPS))
# Segment's libraries send the write key as the HTTP basic user name with an empty password
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}


def identify(key: str, i: int) -> dict:
    return {
        "type": "identify",
        "userId": key,
        "messageId": f"msg-{key}",
        "traits": {"email": f"user{i}@example.com", "firstName": "Ann", "plan": "pro" if i % 2 else "free"},
    }


def order(key: str, i: int) -> dict:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": key,
        "messageId": f"msg-{key}",
        "properties": {"productId": f"sku-{i % 7}", "revenue": round(9.5 + i % 40, 2), "quantity": 1 + i % 3},
    }


def batch(size: int) -> list[dict]:
    return [(identify if i % 2 == 0 else order)(unique_key("seg"), i) for i in range(size)]


@events.test_start.add_listener
def note_load(environment, **_kwargs):
    RECORDER.note(
        "offered",
        {
            "batch_rps": USERS * USER_RPS,
            "events_per_batch": BATCH_EVENTS,
            "events_per_s": USERS * USER_RPS * BATCH_EVENTS,
        },
    )


class SegmentSource(SfmcUser):
    """A Segment library flushing its queue: one ``/v1/batch`` of BATCH_EVENTS events per task."""

    wait_time = paced(USER_RPS)

    def on_start(self):
        self.spread()

    def context(self) -> dict:
        return {"tenant": "connector"}

    @task
    def send_batch(self):
        self.client.post(
            "/v1/batch", json={"batch": batch(BATCH_EVENTS)}, headers=AUTH, name=f"/v1/batch {BATCH_EVENTS} events"
        )


class Steady(LoadTestShape):
    def tick(self):
        if self.get_run_time() >= SECONDS:
            return None
        return USERS, max(USERS, 10)
