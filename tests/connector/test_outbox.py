"""The outbox through its library API: events come back exactly as stored, outcomes land per event."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from connector.delivery.outbox import Outbox


def _event(n: int, **traits) -> dict:
    return {"type": "identify", "userId": f"u{n}", "messageId": f"m{n}", "traits": traits}


def test_bodies_are_stored_exactly_as_json_dumps_with_default_str_writes_them(tmp_path):
    """The stored text (what a restarted connector reads) is json.dumps(event, default=str), byte for byte."""
    events = [
        _event(1, email="a@example.com", age=30, score=0.1, optedIn=True, nothing=None, nested={"a": [1, 2]}),
        _event(2, big=123456789012345678901234567890, negative=-9223372036854775809),
        _event(3, notANumber=float("nan"), infinite=float("inf"), zero=-0.0, tiny=5e-324),
        _event(4, lone="\ud800", text="café ☕ \u0000", when=datetime(2020, 5, 30, 13, 30, tzinfo=UTC)),
    ]
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(str(path))
    try:
        assert outbox.accept(events) == (len(events), 0)
        read = [item.event for item in outbox.pending(100)]
    finally:
        outbox.close()
    with sqlite3.connect(path) as db:
        stored = [body for (body,) in db.execute("SELECT body FROM events ORDER BY seq")]
    assert stored == [json.dumps(event, default=str) for event in events]
    # repr tells an int from a float and shows NaN, which never equals itself
    assert [repr(event) for event in read] == [repr(json.loads(body)) for body in stored]
    assert read[3]["traits"]["when"] == "2020-05-30 13:30:00+00:00"


def test_settle_records_each_events_own_outcome_across_many_events(tmp_path):
    """Outcomes are written in groups; every event still gets its own status and reason, others stay pending."""
    outbox = Outbox(str(tmp_path / "outbox.sqlite3"))
    try:
        outbox.accept([_event(n) for n in range(1_300)])
        batch = outbox.pending(1_300)
        outcomes: dict[int, tuple[str, str | None, str | None]] = {}
        for index, item in enumerate(batch[:1_250]):  # the last 50 are not settled
            if index % 10 == 3:
                outcomes[item.seq] = ("rejected", "invalid_date", f"row {index}: not a date")
            elif index % 10 == 7:
                outcomes[item.seq] = ("dropped", "no_identifier", "no userId")
            else:
                outcomes[item.seq] = ("delivered", None, None)
        outbox.settle(outcomes)
        assert outbox.counts() == {"pending": 50, "delivered": 1_000, "rejected": 125, "dropped": 125}
        assert [item.seq for item in outbox.pending(1_300)] == [item.seq for item in batch[1_250:]]
        rejected = {row["seq"]: (row["reason_code"], row["reason"]) for row in outbox.listing("rejected", 1_000)}
        assert rejected == {
            seq: (code, reason) for seq, (status, code, reason) in outcomes.items() if status == "rejected"
        }
        assert outbox.reasons("dropped") == {"no_identifier": 125}
        assert outbox.reasons("delivered") == {"?": 1_000}
    finally:
        outbox.close()
