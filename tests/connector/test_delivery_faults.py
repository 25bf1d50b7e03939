"""The connector under SFMC's failure modes, injected by the emulator: it retries what is worth retrying,
records what is not, and loses nothing."""

from __future__ import annotations

import threading

import pytest

from tests.connector.delivery_helpers import destination, fault, identify, sfmc_tenant

ROWSET = "/hub/v1/dataevents/*/rowset"


@pytest.fixture
def tenant(emulator_server):
    return sfmc_tenant(emulator_server)


def quick(dest):
    dest.client._sleep = lambda seconds: None  # backoff waits are not what these tests are about
    dest.client.limiter._sleep = lambda seconds: None
    return dest


@pytest.mark.parametrize(
    "rule,status",
    [
        ({"kind": "server_error"}, "500"),
        ({"kind": "unavailable", "retry_after": 1}, "503"),
        ({"kind": "rows_not_saved"}, "400"),  # 10006 without additionalErrors: SFMC's transient save failure
        ({"kind": "blocked"}, "429"),
    ],
)
def test_transient_failures_are_retried(emulator_server, tenant, tmp_path, rule, status):
    fault(emulator_server, tenant, path=ROWSET, times=2, **rule)
    dest = quick(destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True))
    dest.accept([identify(i) for i in range(3)])
    summary = dest.deliver_pending()
    assert summary.delivered == 3 and summary.pending == 0
    assert dest.client.stats.by_status[status] == 2 and dest.client.stats.retries >= 2
    assert len(emulator_server.rows(tenant["id"], "identify")) == 3


def test_dropped_connections_are_retried(emulator_server, tenant, tmp_path):
    fault(emulator_server, tenant, kind="drop", path=ROWSET, times=1)
    dest = quick(destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True))
    dest.accept([identify(1)])
    assert dest.deliver_pending().delivered == 1
    assert dest.client.stats.by_status["ConnectionError"] == 1


@pytest.mark.parametrize("kind", ["revoke_tokens", "expire_tokens"])
def test_revoked_or_expired_tokens_are_renewed(emulator_server, tenant, tmp_path, kind):
    dest = quick(destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True))
    dest.accept([identify(1)])
    assert dest.deliver_pending().delivered == 1
    fault(emulator_server, tenant, kind=kind)
    dest.accept([identify(2)])
    assert dest.deliver_pending().delivered == 1
    assert dest.client.stats.by_status["401"] == 1 and dest.client.stats.token_requests == 2


def test_a_persistent_outage_leaves_events_pending_with_the_reason(emulator_server, tenant, tmp_path):
    fault(emulator_server, tenant, kind="server_error", path=ROWSET)
    dest = quick(destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True, max_retries=3))
    dest.accept([identify(i) for i in range(4)])
    summary = dest.deliver_pending()
    assert summary.pending == 4 and "gave up after 4 attempts" in summary.stopped_because
    [pending] = dest.outbox.listing("pending", limit=1)
    assert pending["attempts"] == 1 and "answered 500" in pending["reason"]
    emulator_server.admin("DELETE", "/faults")
    assert dest.deliver_pending().delivered == 4


def test_permanent_errors_are_not_retried(emulator_server, tenant, tmp_path):
    fault(
        emulator_server,
        tenant,
        kind="error",
        status=403,
        errorcode=20002,
        message="Insufficient Privileges",
        path=ROWSET,
    )
    dest = quick(destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True))
    dest.accept([identify(1)])
    summary = dest.deliver_pending()
    assert dict(summary.rejected) == {"rows_refused_403": 1}
    assert dest.client.stats.retries == 0
    assert "Insufficient Privileges" in dest.outbox.listing("rejected")[0]["reason"]


def test_retry_after_is_honoured(emulator_server, tenant, tmp_path):
    """RL-1: after a 503/429 with Retry-After: 3 the connector waits 3 s before trying again."""
    fault(emulator_server, tenant, kind="unavailable", retry_after=3, path=ROWSET, times=1)
    dest = quick(destination(emulator_server, tenant, tmp_path, do_not_create_contacts=True))
    waits: list[float] = []
    dest.client._sleep = waits.append
    dest.accept([identify(1)])
    assert dest.deliver_pending().delivered == 1
    assert waits == [3.0]


def test_an_outage_of_the_async_api_leaves_every_pass_pending_and_no_sender_behind(emulator_server, tenant, tmp_path):
    """Async bodies go out from a sending thread while the next pass is planned: when SFMC stays
    unreachable, the passes in flight are kept pending, the thread is gone when delivery returns,
    and the next run delivers everything."""
    fault(emulator_server, tenant, kind="server_error", path="/data/v1/async/dataextensions/*/rows")
    dest = quick(
        destination(
            emulator_server,
            tenant,
            tmp_path,
            do_not_create_contacts=True,
            max_retries=2,
            batching={"enabled": True, "max_items": 2, "poll_interval": 0.05},  # 8 events a pass, 4 jobs
        )
    )
    dest.accept([identify(i) for i in range(20)])
    summary = dest.deliver_pending()
    assert summary.delivered == 0 and summary.pending == 20
    assert "gave up after 3 attempts" in summary.stopped_because
    assert not [t for t in threading.enumerate() if t.name.startswith("sfmc-async-sender")]
    assert dest.outbox.counts() == {"pending": 20, "delivered": 0, "rejected": 0, "dropped": 0}
    emulator_server.admin("DELETE", "/faults")
    again = dest.deliver_pending()
    assert again.delivered == 20 and again.pending == 0
    assert len(emulator_server.rows(tenant["id"], "identify")) == 20
