"""Several tenants at once: limits are per tenant, so each gets its own 20 requests/second.

LOADTEST_TENANTS tenants (default 3), each offered LOADTEST_OFFERED_PER_TENANT requests/second
(default 40, twice the limit) by users sending LOADTEST_USER_RPS (4) 1-row rowsets per second each. Each tenant's
accepted rate stays at its own limit: one busy account never eats another's budget (RL-2).

    python -m loadtests.run multitenant --seconds 30

Environment: LOADTEST_SECONDS (30), LOADTEST_TENANTS (3), LOADTEST_OFFERED_PER_TENANT (40),
LOADTEST_USERS (total offered rps, overrides the per-tenant figure), LOADTEST_RATE_LIMIT (20), LOADTEST_BURST.
"""

from __future__ import annotations

import itertools

from locust import LoadTestShape, events, task

from loadtests import common, recorder
from loadtests.sfmc_user import RUN_ID, SfmcUser, Tenant, paced, unique_key

RECORDER = recorder.attach(events)
LIMIT = common.env_float("LOADTEST_RATE_LIMIT", 20.0)
BURST = common.env_float("LOADTEST_BURST", LIMIT)
SECONDS = common.env_float("LOADTEST_SECONDS", 30.0)
TENANTS = common.env_int("LOADTEST_TENANTS", 3)
USER_RPS = common.env_float("LOADTEST_USER_RPS", 4.0)
OFFERED = common.env_int("LOADTEST_USERS", 0) or TENANTS * common.env_int("LOADTEST_OFFERED_PER_TENANT", 40)
# fewer, busier users: waitress serves at most 100 connections at once, and a keep-alive user holds one
USERS = max(TENANTS, round(OFFERED / USER_RPS))
POOL: list[Tenant] = []
_NEXT = itertools.count()


@events.test_start.add_listener
def create_tenants(environment, **_kwargs):
    POOL.clear()
    for i in range(TENANTS):
        raw = common.ensure_tenant(environment.host, f"lt-multi-{RUN_ID}-{i}", {"rate_limit": LIMIT, "burst": BURST})
        POOL.append(Tenant(raw, environment.host))
    RECORDER.note("rate_limit", {"limit": LIMIT, "burst": BURST, "tenants": [t.id for t in POOL]})
    RECORDER.note("offered", {"constant_rps": USERS * USER_RPS, "per_tenant_rps": USERS * USER_RPS / TENANTS})


class TenantClient(SfmcUser):
    wait_time = paced(USER_RPS)

    def on_start(self):
        self.tenant = POOL[next(_NEXT) % len(POOL)]  # round robin: every tenant gets the same offered load
        self.spread()

    @task
    def upsert(self):
        self.rowset([common.row(unique_key("mt"))], "rowset 1 row", allow_429=True)


class Steady(LoadTestShape):
    def tick(self):
        if self.get_run_time() >= SECONDS:
            return None
        return USERS, max(USERS, 10)
