"""Closed-loop rowset upserts as fast as the server answers: the throughput benchmark's client.

Each user posts LOADTEST_ROWS rows (1 or 50) per request with no wait; the same file drives the
emulator (tenant with throttling off) and the bare Flask endpoint (LOADTEST_TARGET=bare), so the
two figures differ only by the server. Used by ``loadtests.bench_sync`` and ``loadtests.ratios``.

Environment: LOADTEST_ROWS (1), LOADTEST_TARGET (emulator|bare), LOADTEST_CLIENT_ID / LOADTEST_CLIENT_SECRET
(use this package instead of creating a tenant).
"""

from __future__ import annotations

import os

from locust import constant, events, task

from loadtests import common, recorder
from loadtests.sfmc_user import RUN_ID, SfmcUser, Tenant, unique_key

RECORDER = recorder.attach(events)
ROWS = common.env_int("LOADTEST_ROWS", 1)
TARGET = os.environ.get("LOADTEST_TARGET", "emulator")


@events.test_start.add_listener
def create_tenant(environment, **_kwargs):
    if TARGET == "bare":
        raw = {"id": "bare", "packages": [{"client_id": "bare", "client_secret": "bare"}]}
    elif os.environ.get("LOADTEST_CLIENT_ID"):
        raw = {
            "id": "scenario",
            "packages": [
                {"client_id": os.environ["LOADTEST_CLIENT_ID"], "client_secret": os.environ["LOADTEST_CLIENT_SECRET"]}
            ],
        }
    else:
        raw = common.ensure_tenant(environment.host, f"lt-bench-{RUN_ID}", {"rate_limit": 0})
    Upserter.tenant = Tenant(raw, environment.host)
    RECORDER.note("target", {"target": TARGET, "rows_per_request": ROWS})


class Upserter(SfmcUser):
    wait_time = constant(0)

    @task
    def upsert(self):
        self.rowset([common.row(unique_key("bench"), i) for i in range(ROWS)], f"rowset {ROWS} row(s)")
