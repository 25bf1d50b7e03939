"""Throttle scenario: one tenant limited to 20 requests/second, offered load ramping 5 -> 200 rps.

Every user sends LOADTEST_USER_RPS 1-row rowsets per second (default 4, ``paced``, on a random
phase), so the offered rate is users x 4; the shape ramps the users linearly. (Fewer, busier users:
waitress serves at most 100 connections at once, its default ``connection_limit``, and a keep-alive
user holds one.) What comes back: 2xx up to the limit, 429
(errorcode 50100, ``Retry-After``) for the rest. A plot of accepted per second is flat at the limit.

    python -m loadtests.run throttle --seconds 60       # starts an emulator, writes reports/throttle-*/
    locust -f loadtests/locustfile_throttle.py --headless --host http://127.0.0.1:8085

Environment: LOADTEST_SECONDS (ramp length, default 60), LOADTEST_MIN_RPS (5), LOADTEST_MAX_RPS (200),
LOADTEST_OFFERED (hold this rate instead of ramping: the 5x-overload check uses 100),
LOADTEST_RATE_LIMIT (20), LOADTEST_BURST (= the limit), LOADTEST_USER_RPS (4), LOADTEST_TARGET (bare: the
same load against ``loadtests.bare``, the client latency of the stack itself).
"""

from __future__ import annotations

import os

from locust import LoadTestShape, events, task

from loadtests import common, recorder
from loadtests.sfmc_user import RUN_ID, SfmcUser, Tenant, paced, unique_key

RECORDER = recorder.attach(events)
LIMIT = common.env_float("LOADTEST_RATE_LIMIT", 20.0)
BURST = common.env_float("LOADTEST_BURST", LIMIT)
SECONDS = common.env_float("LOADTEST_SECONDS", 60.0)
MIN_RPS = common.env_int("LOADTEST_MIN_RPS", 5)
MAX_RPS = common.env_int("LOADTEST_MAX_RPS", 200)
OFFERED = common.env_int("LOADTEST_OFFERED", 0)
USER_RPS = common.env_float("LOADTEST_USER_RPS", 4.0)


@events.test_start.add_listener
def create_tenant(environment, **_kwargs):
    if os.environ.get("LOADTEST_TARGET") == "bare":  # the bare echo (loadtests.bare): the same load, all 200s
        raw = {"id": "bare", "packages": [{"client_id": "bare", "client_secret": "bare"}]}
    else:
        raw = common.ensure_tenant(environment.host, f"lt-throttle-{RUN_ID}", {"rate_limit": LIMIT, "burst": BURST})
    ThrottledClient.tenant = Tenant(raw, environment.host)
    RECORDER.note("rate_limit", {"limit": LIMIT, "burst": BURST, "tenants": [raw["id"]]})
    RECORDER.note("offered", {"constant_rps": OFFERED} if OFFERED else {"ramp_rps": [MIN_RPS, MAX_RPS]})


class ThrottledClient(SfmcUser):
    wait_time = paced(USER_RPS)

    def on_start(self):
        self.spread()

    @task
    def upsert(self):
        self.rowset([common.row(unique_key("thr"))], "rowset 1 row", allow_429=True)


class Ramp(LoadTestShape):
    """Offered requests/second from MIN_RPS to MAX_RPS over SECONDS, or OFFERED throughout."""

    def tick(self):
        elapsed = self.get_run_time()
        if elapsed >= SECONDS:
            return None
        rate = OFFERED or MIN_RPS + (MAX_RPS - MIN_RPS) * elapsed / SECONDS
        users = max(1, round(rate / USER_RPS))
        return users, max(users, 10)
