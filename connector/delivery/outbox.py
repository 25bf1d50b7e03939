"""The durable outbox: every accepted event stays here until it is delivered, rejected or dropped.

SQLite in WAL mode. ``accept`` commits before it returns, so an event acknowledged to a caller
survives the connector being killed; a restarted connector picks up every ``pending`` event.
Events are keyed by Segment's ``messageId``, so a replayed event is not sent twice.

An event with a transient failure (a stalled async job, a deadlocked row) stays ``pending`` with
its reason code and a ``next_attempt_at`` before which it is not picked up (``retry_later``).
The Contact Keys the connector created are kept too (``contacts``), so a contact is created
once, not once per identify; a changed attribute set (another digest) is sent again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from .collector import cyclic_gc_paused

PENDING, DELIVERED, REJECTED, DROPPED = "pending", "delivered", "rejected", "dropped"
STATUSES = (PENDING, DELIVERED, REJECTED, DROPPED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    reason_code TEXT,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_status ON events (status, seq);
CREATE TABLE IF NOT EXISTS contacts (
    contact_key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


_SETTLE_CHUNK = 500  # seqs per UPDATE, well under SQLite's bound-parameter limit

# bodies are stored as json.dumps(event, default=str) writes them; one encoder serves every event
_ENCODER = json.JSONEncoder(default=str)
# every digit as "0": a body holding 19 digits in a row may hold an integer beyond 64 bits
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def _decode(body: bytes) -> Any:
    """A stored body read back exactly as ``json.loads`` reads it, mostly by orjson (twice as fast).

    orjson would read an integer beyond 64 bits as a float, so a body with a run of 19 digits (an
    integer that long, or only text with digits) is left to ``json.loads``; so is what orjson
    refuses (NaN, infinities, a lone surrogate), which ``json.dumps`` writes and ``json.loads`` reads.
    """
    if body.translate(_DIGITS_AS_ZERO).find(_LONG_NUMBER) < 0:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


class OutboxEvent(NamedTuple):
    seq: int
    event: dict
    attempts: int
    retries: int = 0  # times sent again after a transient failure (a stalled job, a deadlocked row)


class Outbox:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        for column, kind in (("next_attempt_at", "REAL"), ("retries", "INTEGER")):
            if column not in columns:  # an outbox written before transient retries were scheduled
                self._db.execute(f"ALTER TABLE events ADD COLUMN {column} {kind} NOT NULL DEFAULT 0")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def accept(self, events: Iterable[dict]) -> tuple[int, int]:
        """Store events durably; returns (accepted, duplicates). Events without a messageId get one."""
        now = time.time()
        rows = []
        with cyclic_gc_paused():
            for event in events:
                if isinstance(event, dict) and not event.get("messageId"):
                    event = {**event, "messageId": f"generated-{uuid.uuid4()}"}
                message_id = str(event.get("messageId")) if isinstance(event, dict) else f"malformed-{uuid.uuid4()}"
                rows.append((message_id, _ENCODER.encode(event), now, now))
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO events (message_id, body, received_at, updated_at) VALUES (?, ?, ?, ?)",
                rows,
            )
            self._db.execute("COMMIT")
            accepted = self._db.total_changes - before
        return accepted, len(rows) - accepted

    def reject_unreadable(self, items: list[tuple[str, str, str]]) -> None:
        """Keep input that is not an event at all (e.g. a line of bad JSON) as rejected, with the reason.

        ``items`` are (message id, raw text, reason): nothing read is dropped without a trace.
        """
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO events (message_id, body, status, reason_code, reason, received_at, updated_at) "
                "VALUES (?, ?, 'rejected', 'malformed_input', ?, ?, ?)",
                [(mid, json.dumps({"raw": raw[:2000]}), reason, now, now) for mid, raw, reason in items],
            )
            self._db.execute("COMMIT")

    def pending(self, limit: int, after_seq: int = 0, *, now: float | None = None) -> list[OutboxEvent]:
        """Pending events due by ``now`` (default: the current time), in arrival order."""
        due = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, CAST(body AS BLOB), attempts, retries FROM events "
                "WHERE status = 'pending' AND seq > ? AND next_attempt_at <= ? ORDER BY seq LIMIT ?",
                (after_seq, due, limit),
            ).fetchall()
        with cyclic_gc_paused():
            return [OutboxEvent(seq, _decode(body), attempts, retries) for seq, body, attempts, retries in rows]

    def settle(self, outcomes: dict[int, tuple[str, str | None, str | None]]) -> None:
        """Record final outcomes: seq -> (status, reason_code, reason).

        Events with the same outcome (a batch's delivered ones, mostly) are updated together, one
        statement per few hundred events rather than one per event, in one transaction.
        """
        now = time.time()
        by_outcome: dict[tuple[str, str | None, str | None], list[int]] = {}
        for seq, outcome in outcomes.items():
            by_outcome.setdefault(outcome, []).append(seq)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for (status, code, reason), seqs in by_outcome.items():
                for start in range(0, len(seqs), _SETTLE_CHUNK):
                    part = seqs[start : start + _SETTLE_CHUNK]
                    self._db.execute(
                        "UPDATE events SET status = ?, reason_code = ?, reason = ?, updated_at = ? "
                        f"WHERE seq IN ({','.join('?' * len(part))})",
                        (status, code, reason, now, *part),
                    )
            self._db.execute("COMMIT")

    def note_attempt(self, seqs: Iterable[int], reason: str) -> None:
        """A delivery attempt that will be retried later: count it and keep the last reason."""
        with self._lock:
            self._db.executemany(
                "UPDATE events SET attempts = attempts + 1, reason_code = 'sfmc_unreachable', reason = ?, "
                "updated_at = ? WHERE seq = ?",
                [(reason, time.time(), seq) for seq in seqs],
            )

    def retry_later(self, items: dict[int, tuple[str, str, float]]) -> None:
        """Keep events pending after a transient failure: seq -> (reason code, reason, seconds to wait)."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE events SET attempts = attempts + 1, retries = retries + 1, reason_code = ?, reason = ?, "
                "next_attempt_at = ?, updated_at = ? WHERE seq = ? AND status = 'pending'",
                [(code, reason, now + delay, now, seq) for seq, (code, reason, delay) in items.items()],
            )
            self._db.execute("COMMIT")

    def next_due(self) -> float | None:
        """When the earliest pending event may be sent (a time.time() value), or None when none is pending."""
        with self._lock:
            (due,) = self._db.execute("SELECT min(next_attempt_at) FROM events WHERE status = 'pending'").fetchone()
        return due

    def known_contacts(self, digests: dict[str, str]) -> set[str]:
        """The Contact Keys among ``digests`` (key -> attribute digest) already created with that digest."""
        if not digests:
            return set()
        known: set[str] = set()
        keys = list(digests)
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                rows = self._db.execute(
                    f"SELECT contact_key, digest FROM contacts WHERE contact_key IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                known.update(key for key, digest in rows if digests.get(key) == digest)
        return known

    def remember_contacts(self, digests: dict[str, str]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO contacts (contact_key, digest, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(contact_key) DO UPDATE SET digest = excluded.digest",
                [(key, digest, now) for key, digest in digests.items()],
            )
            self._db.execute("COMMIT")

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall()
        return {status: 0 for status in STATUSES} | dict(rows)

    def reasons(self, status: str) -> dict[str, int]:
        """Events of ``status`` by reason code; pending ones without a transient failure count as ``new``."""
        fallback = "new" if status == PENDING else "?"
        with self._lock:
            rows = self._db.execute(
                "SELECT coalesce(reason_code, ?), count(*) FROM events WHERE status = ? GROUP BY 1 ORDER BY 2 DESC",
                (fallback, status),
            ).fetchall()
        return dict(rows)

    def listing(self, status: str, limit: int = 100) -> list[dict]:
        """Events of one status with their reasons, newest first (e.g. the rejected ones)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, message_id, reason_code, reason, attempts, body FROM events WHERE status = ? "
                "ORDER BY seq DESC LIMIT ?",
                (status, limit),
            ).fetchall()
        return [
            {"seq": s, "message_id": m, "reason_code": c, "reason": r, "attempts": a, "event": json.loads(b)}
            for s, m, c, r, a, b in rows
        ]

    def requeue(self, status: str = REJECTED) -> int:
        """Send rejected (or dropped) events again, e.g. after fixing a Data Extension."""
        with self._lock:
            return self._db.execute(
                "UPDATE events SET status = 'pending', reason_code = NULL, reason = NULL, attempts = 0, retries = 0, "
                "next_attempt_at = 0 WHERE status = ?",
                (status,),
            ).rowcount
