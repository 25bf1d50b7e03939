"""The base locust user of every scenario: keep-alive HTTP (FastHttpUser) with one tenant's token.

A locust client without keep-alive measures its own TCP handshakes, not the server, so every
scenario user is a ``FastHttpUser`` (geventhttpclient, persistent connections).
"""

from __future__ import annotations

import itertools
import os
import random
import time

import gevent
from locust import FastHttpUser

from . import common

RUN_ID = os.environ.get("LOADTEST_RUN_ID", "local")  # the run CLI sets one per run, so tenants never collide
_KEYS = itertools.count()


class Tenant:
    """One tenant's id and token, filled in by a scenario's ``test_start`` listener."""

    def __init__(self, tenant: dict, host: str, token: str | None = None):
        self.id = tenant["id"]
        self.client_id, self.client_secret = common.credentials(tenant)
        self.settings = tenant.get("settings", {})
        self.token = token or common.get_token(host, self.client_id, self.client_secret)

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def unique_key(prefix: str = "k") -> str:
    """A contact key no other request of any process uses (rows are inserted, not only updated)."""
    return f"{prefix}-{os.getpid()}-{next(_KEYS)}"


def paced(per_second: float):
    """A wait_time holding each user to ``per_second`` tasks, on the phase ``spread`` gave it; a user
    behind schedule starts its next task at once but never catches up with a burst."""
    period = 1.0 / per_second

    def wait(user) -> float:
        now = time.monotonic()
        user._next_due = max(getattr(user, "_next_due", now) + period, now)
        return user._next_due - now

    return wait


class SfmcUser(FastHttpUser):
    abstract = True
    tenant: Tenant | None = None  # set per user (multitenant) or per class (one tenant)

    def spread(self) -> None:
        """Start at a random point of the first second: users spawned together would otherwise fire
        together every second, and the queue that bunching builds is the client's doing, not the server's.
        (locust's ``constant_throughput`` keeps each user's phase at its spawn time, so it cannot be used.)"""
        gevent.sleep(random.random())
        self._next_due = time.monotonic()

    def context(self) -> dict:
        return {"tenant": self.tenant.id if self.tenant else ""}

    def rowset(self, rows: list[dict], name: str, key: str = common.DE_KEY, allow_429: bool = False):
        with self.client.post(
            f"/hub/v1/dataevents/key:{key}/rowset", json=rows, headers=self.tenant.auth, name=name, catch_response=True
        ) as response:
            if allow_429 and response.status_code == 429:
                response.success()  # the throttle answering is what the scenario measures, not a failure
            return response
