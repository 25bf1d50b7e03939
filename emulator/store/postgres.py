"""PostgreSQL implementation of the storage interface (psycopg 3), for a shared emulator.

Several emulator processes (``serve --workers N``, or several hosts) can use one database: every
piece of state they share lives here, and each rule that must hold across them is one statement
or one transaction in PostgreSQL:

- each thread has its own connection (autocommit; ``transaction()`` opens a transaction on it and
  nests as savepoints), so threads and processes run side by side;
- the token bucket of a tenant is one ``INSERT ... ON CONFLICT DO UPDATE`` per admission: the row
  lock serialises callers, so the calls let through stay within ``rate * window + burst`` however
  many processes ask (``take_token``);
- async jobs are claimed with ``FOR UPDATE SKIP LOCKED`` inside the transaction that writes their
  rows and outcome, so a process killed mid-job leaves the job to another, and a job commits
  its outcome at most once (``claim_async_job``).

Rows are JSON text in one generic table keyed by (tenant, Data Extension id, row key), as on SQLite;
every key starts with the tenant (see ``base.py``).
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from contextlib import contextmanager, nullcontext

from ..domain.data_extensions import DataExtension
from ..domain.filters import BoolOp, Compare
from ..domain.tenants import Tenant
from ..json_reader import loads as read_json
from .migrations import MIGRATIONS, statements
from .sqlite import _de_from_json, _de_to_json

MIGRATION_LOCK = 0x5F3C_E0A1  # advisory lock id: one process migrates, the others wait for it
DEFINITIONS_CHANNEL = "sfmc_definitions"  # NOTIFY channel: tenants or Data Extensions changed
FAULTS_CHANNEL = "sfmc_faults"  # NOTIFY channel: fault rules added or removed
JOURNAL_TRIM_LOCK = 0x5F3C_E0A2  # advisory lock id: one transaction at a time trims the journal to its byte bound

# Recording a journal entry is one call of this function (one round trip): add the entry, evict the
# tenant's oldest past ``p_size`` entries, then the oldest of any tenant while all together hold more
# than ``p_max_bytes``; every eviction is counted in its tenant's row of journal_tenants. The tenant's
# row lock serialises its recorders; deletions skip rows another transaction holds, and only one
# transaction trims by bytes at a time, so no two recorders wait on each other in a circle.
# (Re)defined on every start, after the migrations.
JOURNAL_RECORD = f"""
CREATE OR REPLACE FUNCTION sfmc_journal_record(
    p_tenant TEXT, p_at DOUBLE PRECISION, p_method TEXT, p_status INTEGER, p_bytes INTEGER, p_body TEXT,
    p_size INTEGER, p_max_bytes BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    new_id BIGINT;
    held_now INTEGER;
    gone_count INTEGER;
    gone_bytes BIGINT;
    victim RECORD;
BEGIN
    INSERT INTO journal_tenants AS t (tenant_key, held, bytes, evicted) VALUES (p_tenant, 1, p_bytes, 0)
    ON CONFLICT (tenant_key) DO UPDATE SET held = t.held + 1, bytes = t.bytes + p_bytes
    RETURNING t.held INTO held_now;
    INSERT INTO journal (tenant_key, at, method, status, bytes, body)
    VALUES (p_tenant, p_at, p_method, p_status, p_bytes, p_body) RETURNING id INTO new_id;
    IF held_now > p_size THEN
        WITH gone AS (
            DELETE FROM journal WHERE id IN (
                SELECT j.id FROM journal j WHERE j.tenant_key = p_tenant ORDER BY j.id LIMIT held_now - p_size
                FOR UPDATE SKIP LOCKED)
            RETURNING journal.bytes)
        SELECT count(*), coalesce(sum(gone.bytes), 0) INTO gone_count, gone_bytes FROM gone;
        UPDATE journal_tenants SET held = held - gone_count, bytes = bytes - gone_bytes,
            evicted = evicted + gone_count WHERE tenant_key = p_tenant;
    END IF;
    IF (SELECT sum(bytes) FROM journal_tenants) > p_max_bytes AND pg_try_advisory_xact_lock({JOURNAL_TRIM_LOCK}) THEN
        LOOP
            EXIT WHEN (SELECT sum(bytes) FROM journal_tenants) <= p_max_bytes;
            DELETE FROM journal WHERE id = (
                SELECT j.id FROM journal j WHERE j.id <> new_id ORDER BY j.id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING journal.tenant_key, journal.bytes INTO victim;
            EXIT WHEN NOT FOUND;
            UPDATE journal_tenants SET held = held - 1, bytes = bytes - victim.bytes, evicted = evicted + 1
            WHERE tenant_key = victim.tenant_key;
        END LOOP;
    END IF;
    RETURN new_id;
END $$
"""

_REFILLED = "least(b.burst, b.tokens + greatest(0, excluded.updated - b.updated) * b.rate)"
TAKE_TOKEN = f"""
INSERT INTO buckets AS b (tenant_id, rate, burst, tokens, updated, allowed)
VALUES (%(tenant)s, %(rate)s, %(burst)s, %(burst)s - 1, %(now)s, 1)
ON CONFLICT (tenant_id) DO UPDATE SET
    tokens = CASE
        WHEN b.rate <> excluded.rate OR b.burst <> excluded.burst THEN excluded.burst - 1
        WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1
        ELSE {_REFILLED} END,
    allowed = CASE WHEN b.rate <> excluded.rate OR b.burst <> excluded.burst OR {_REFILLED} >= 1 THEN 1 ELSE 0 END,
    rate = excluded.rate,
    burst = excluded.burst,
    updated = greatest(b.updated, excluded.updated)
RETURNING allowed, tokens
"""


def _psycopg():
    try:
        import psycopg
    except ImportError:  # the optional extra is not installed
        raise RuntimeError("a postgresql:// database needs psycopg: pip install 'sfmc-emulator[postgres]'") from None
    return psycopg


_open_stores: weakref.WeakSet[PostgresStore] = weakref.WeakSet()


def close_all() -> None:
    """Close every PostgreSQL store of this process: its background threads (async worker, statistics,
    notices) then stop cleanly instead of failing against a server about to go away."""
    for store in list(_open_stores):
        store.close()


class PostgresStore:
    shared = True  # several processes may use this store at once

    def __init__(self, url: str):
        self.url = url
        self._psycopg = _psycopg()
        self._local = threading.local()
        self._connections: list = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._watchers: dict[str, list] = {}  # NOTIFY channel -> callbacks
        self._listener: threading.Thread | None = None
        self._rows_written, self._analyze_at = 0, 1000  # rows written here; next statistics refresh
        self._migrate()
        _open_stores.add(self)

    # -- plumbing -----------------------------------------------------------------------------

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            if self._closed:
                raise RuntimeError("the store is closed")
            conn = self._psycopg.connect(self.url, autocommit=True)
            # as SQLite's synchronous=NORMAL: a commit survives any emulator process dying (the server
            # has it); only a crash of the database server's machine may lose the last few
            conn.execute("SET synchronous_commit = off")
            self._local.conn = conn
            with self._connections_lock:
                self._connections = [c for c in self._connections if not c.closed]
                self._connections.append(conn)
        return conn

    def _migrate(self) -> None:
        conn = self._conn()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0] or 0
            for number in range(version + 1, len(MIGRATIONS) + 1):
                for statement in statements(number, "postgresql"):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
            conn.execute(JOURNAL_RECORD)

    @contextmanager
    def transaction(self, pipeline: bool = False):
        """A transaction on this thread's connection; nested calls become savepoints.

        ``pipeline``: send statements without waiting for each answer until one is read (psycopg's
        pipeline mode), so BEGIN, the row lock and the read of stored rows travel together, and the
        write with COMMIT: two round trips for a sync upsert instead of five. The server still runs
        them one after another, each read seeing what was committed before it started."""
        conn = self._conn()
        if pipeline and conn.info.transaction_status == self._psycopg.pq.TransactionStatus.IDLE:
            with conn.pipeline(), conn.transaction():
                yield conn
            return
        with conn.transaction():  # nested calls become savepoints
            yield conn

    def _query(self, sql: str, params=()) -> list[tuple]:
        return self._conn().execute(sql, params).fetchall()

    def _execute(self, sql: str, params=()) -> int:
        return self._conn().execute(sql, params).rowcount

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # -- tenants ------------------------------------------------------------------------------

    def put_tenant(self, tenant: Tenant) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO tenants (id, body) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (tenant.id, json.dumps(tenant.to_dict())),
            )
            self._changed(db, tenant.id)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        rows = self._query("SELECT body FROM tenants WHERE id = %s", (tenant_id,))
        return Tenant.from_dict(json.loads(rows[0][0])) if rows else None

    def list_tenants(self) -> list[Tenant]:
        return [Tenant.from_dict(json.loads(b)) for (b,) in self._query("SELECT body FROM tenants ORDER BY id")]

    def delete_tenant(self, tenant_id: str) -> bool:
        with self.transaction() as db:
            self._delete_tenant_data(db, tenant_id, keep_definitions=False)
            self._changed(db, tenant_id)
            return db.execute("DELETE FROM tenants WHERE id = %s", (tenant_id,)).rowcount > 0

    # -- data extensions ----------------------------------------------------------------------

    def put_data_extension(self, tenant_id: str, de: DataExtension) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO data_extensions (tenant_id, id, key, body) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (tenant_id, id) DO UPDATE SET key = excluded.key, body = excluded.body",
                (tenant_id, de.id, de.key, json.dumps(_de_to_json(de))),
            )
            self._changed(db, tenant_id)

    def list_data_extensions(self, tenant_id: str) -> list[DataExtension]:
        rows = self._query("SELECT body FROM data_extensions WHERE tenant_id = %s ORDER BY seq", (tenant_id,))
        return [_de_from_json(json.loads(b)) for (b,) in rows]

    def delete_data_extension(self, tenant_id: str, de_id: str) -> bool:
        with self.transaction() as db:
            db.execute("DELETE FROM rows WHERE tenant_id = %s AND de_id = %s", (tenant_id, de_id))
            cursor = db.execute("DELETE FROM data_extensions WHERE tenant_id = %s AND id = %s", (tenant_id, de_id))
            self._changed(db, tenant_id)
            return cursor.rowcount > 0

    # -- definitions shared by processes ------------------------------------------------------

    @staticmethod
    def _changed(db, tenant_id: str) -> None:
        """Tell every process (this one too) that a tenant's definitions changed, once this commits."""
        db.execute("SELECT pg_notify(%s, %s)", (DEFINITIONS_CHANNEL, tenant_id))

    def watch_definitions(self, callback) -> None:
        """Call ``callback(tenant_id)`` from a background thread whenever any process changed a
        tenant or its Data Extensions (and ``callback(None)`` after each (re)connection)."""
        self._watch(DEFINITIONS_CHANNEL, callback)

    def watch_faults(self, callback) -> None:
        """Call ``callback(None)`` from a background thread whenever any process added or removed fault rules."""
        self._watch(FAULTS_CHANNEL, callback)

    def _watch(self, channel: str, callback) -> None:
        with self._connections_lock:
            self._watchers.setdefault(channel, []).append(callback)
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, name="sfmc-notify", daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        """One connection LISTENs on every watched channel, reconnecting after errors."""
        while not self._closed:
            try:
                with self._psycopg.connect(self.url, autocommit=True) as conn:
                    with self._connections_lock:
                        self._connections.append(conn)
                    listening: set[str] = set()
                    while not self._closed:
                        with self._connections_lock:
                            fresh = {c: list(cbs) for c, cbs in self._watchers.items() if c not in listening}
                        for channel, callbacks in fresh.items():
                            conn.execute(f"LISTEN {channel}")
                            listening.add(channel)
                            for callback in callbacks:  # anything missed while not listening
                                callback(None)
                        for note in conn.notifies(timeout=1.0):
                            with self._connections_lock:
                                callbacks = list(self._watchers.get(note.channel, ()))
                            for callback in callbacks:
                                callback(note.payload or None)
            except Exception:
                if self._closed:
                    return
                time.sleep(1.0)

    # -- rows ---------------------------------------------------------------------------------

    def delete_rows(self, tenant_id: str, de_id: str, row_keys: list[str]) -> int:
        unique = list(dict.fromkeys(row_keys))
        if not unique:
            return 0
        return self._execute(
            "DELETE FROM rows WHERE tenant_id = %s AND de_id = %s AND row_key = ANY(%s)", (tenant_id, de_id, unique)
        )

    def rows_by_key(self, tenant_id: str, de_id: str, row_keys: list[str]) -> dict[str, dict]:
        unique = list(dict.fromkeys(row_keys))
        if not unique:
            return {}
        # one unique-index probe per key (a filtered scan of the whole Data Extension would grow with it)
        rows = self._query(
            "SELECT r.row_key, r.data FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL ("
            "SELECT row_key, data FROM rows WHERE tenant_id = %s AND de_id = %s AND row_key = k.key LIMIT 1) r",
            (unique, tenant_id, de_id),
        )
        return {key: json.loads(data) for key, data in rows}

    def insert_new_rows(self, tenant_id: str, de_id: str, writes: dict[str, dict]) -> bool:
        """Not tried here: a failed insert would need a savepoint, a round trip more than the read it saves."""
        return False

    def write_rows(self, tenant_id: str, de_id: str, writes: dict[str, dict], appends: list[dict]) -> None:
        """One statement per kind of write, whatever the number of rows (arrays unnested server-side)."""
        dumps = json.dumps
        conn = self._conn()  # inside the caller's transaction as it is (a savepoint would wait for the server)
        inside = conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE
        with nullcontext(conn) if inside else self.transaction() as db:
            if writes:
                db.execute(
                    "INSERT INTO rows (tenant_id, de_id, row_key, data) "
                    "SELECT %s, %s, k, d FROM unnest(%s::text[], %s::text[]) AS u(k, d) "
                    "ON CONFLICT (tenant_id, de_id, row_key) DO UPDATE SET data = excluded.data",
                    (tenant_id, de_id, list(writes), [dumps(data) for data in writes.values()]),
                )
            if appends:
                db.execute(
                    "INSERT INTO rows (tenant_id, de_id, row_key, data) "
                    "SELECT %s, %s, NULL, d FROM unnest(%s::text[]) WITH ORDINALITY AS u(d, n) ORDER BY n",
                    (tenant_id, de_id, [dumps(data) for data in appends]),
                )
        self._written(len(writes) + len(appends))

    def merge_row(self, tenant_id: str, de_id: str, row_key: str, data: dict, keep: tuple[str, ...]) -> None:
        """Upsert one row; an update merges it into the stored row, whose other columns and ``keep`` columns
        stay as stored (``Store.merge_row``): the stored row read and the merged row written, in the caller's
        transaction as it is (``write_rows``)."""
        conn = self._conn()
        inside = conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE
        with nullcontext(conn) if inside else self.transaction():
            stored = self.rows_by_key(tenant_id, de_id, [row_key]).get(row_key)
            if stored is not None:
                data = {**stored, **{name: value for name, value in data.items() if name not in keep}}
            self.write_rows(tenant_id, de_id, {row_key: data}, [])

    def _written(self, count: int) -> None:
        """Count rows this process wrote; past each doubling (1,000, 2,000, 4,000 ...) refresh the rows
        table's planner statistics in the background. Without them (autovacuum first analyzes a table
        about a minute after it grew) PostgreSQL guesses one row per Data Extension and probes a key
        by scanning the whole Data Extension, which makes each upsert slower as the table grows."""
        with self._connections_lock:
            self._rows_written += count
            if self._rows_written < self._analyze_at:
                return
            self._analyze_at = self._rows_written * 2
        threading.Thread(target=self._analyze, name="sfmc-analyze", daemon=True).start()

    def _analyze(self) -> None:
        try:
            with self._psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("ANALYZE rows")
        except Exception:  # statistics are an optimisation; autovacuum takes them later anyway
            return

    def lock_rows(self, tenant_id: str, de_id: str) -> None:
        """Inside a transaction: wait until no other transaction writes this Data Extension's rows.

        Planning an upsert reads the stored rows first; the lock keeps two processes from planning
        against the same old row and the later write undoing the earlier one."""
        self._execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{tenant_id}/{de_id}",))

    def query_rows(self, tenant_id: str, de_id: str, where, offset: int, limit: int) -> tuple[list[dict], int]:
        clause, params = _where_sql(where)
        base = f"FROM rows WHERE tenant_id = %s AND de_id = %s{' AND ' + clause if clause else ''}"
        total = self._query(f"SELECT count(*) {base}", (tenant_id, de_id, *params))[0][0]
        rows = self._query(
            f"SELECT data {base} ORDER BY seq LIMIT %s OFFSET %s", (tenant_id, de_id, *params, limit, offset)
        )
        return [json.loads(d) for (d,) in rows], total

    # -- tokens -------------------------------------------------------------------------------

    def put_token(self, token: str, record: dict) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM tokens WHERE expires_at < %s", (time.time() - 86400,))
            db.execute(
                "INSERT INTO tokens (token, tenant_id, expires_at, body) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (token) DO UPDATE SET tenant_id = excluded.tenant_id, "
                "expires_at = excluded.expires_at, body = excluded.body",
                (token, record["tenant_id"], record["expires_at"], json.dumps(record)),
            )

    def get_token(self, token: str) -> dict | None:
        rows = self._query("SELECT body FROM tokens WHERE token = %s", (token,))
        return json.loads(rows[0][0]) if rows else None

    # -- throttle -----------------------------------------------------------------------------

    def take_token(self, tenant_id: str, rate: float, burst: float, now: float) -> tuple[bool, float]:
        """Take one token from the tenant's bucket: (let through, tokens left), in one statement."""
        allowed, tokens = self._query(
            TAKE_TOKEN, {"tenant": tenant_id, "rate": float(rate), "burst": float(burst), "now": now}
        )[0]
        return bool(allowed), tokens

    def forget_buckets(self, tenant_id: str | None = None) -> None:
        if tenant_id is None:
            self._execute("DELETE FROM buckets")
        else:
            self._execute("DELETE FROM buckets WHERE tenant_id = %s", (tenant_id,))

    # -- write log ----------------------------------------------------------------------------

    def log_write(self, tenant_id: str, entry: dict) -> None:
        self._execute(
            "INSERT INTO writes (tenant_id, at, body) VALUES (%s, %s, %s)",
            (tenant_id, entry.get("at", time.time()), json.dumps(entry)),
        )

    def list_writes(self, tenant_id: str, limit: int) -> list[dict]:
        rows = self._query(
            "SELECT id, body FROM writes WHERE tenant_id = %s ORDER BY id DESC LIMIT %s", (tenant_id, limit)
        )
        return [{"id": i, **json.loads(b)} for i, b in rows]

    # -- async jobs ---------------------------------------------------------------------------

    def put_async_job(self, record: dict, items: list | None = None) -> None:
        """Insert or update a job; ``items`` are written only when given, and cleared once it finished."""
        body = json.dumps(record)
        if items is not None:
            self._execute(
                "INSERT INTO async_jobs (id, tenant_id, state, called_at, due_at, body, items) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, id) DO UPDATE SET "
                "state = excluded.state, called_at = excluded.called_at, due_at = excluded.due_at, "
                "body = excluded.body, items = excluded.items",
                (
                    record["id"],
                    record["tenant_id"],
                    record["state"],
                    record["called_at"],
                    record.get("due_at", record["called_at"]),
                    body,
                    json.dumps(items),
                ),
            )
        else:
            finished = record["state"] in ("Complete", "Error")
            self._execute(
                f"UPDATE async_jobs SET state = %s, due_at = coalesce(%s, due_at), body = %s"
                f"{', items = NULL' if finished else ''} WHERE tenant_id = %s AND id = %s",
                (record["state"], record.get("due_at"), body, record["tenant_id"], record["id"]),
            )

    def get_async_job(self, tenant_id: str, job_id: str) -> dict | None:
        rows = self._query("SELECT body FROM async_jobs WHERE tenant_id = %s AND id = %s", (tenant_id, job_id))
        return json.loads(rows[0][0]) if rows else None

    def async_job_items(self, tenant_id: str, job_id: str) -> list | None:
        rows = self._query("SELECT items FROM async_jobs WHERE tenant_id = %s AND id = %s", (tenant_id, job_id))
        return read_json(rows[0][0]) if rows and rows[0][0] is not None else None

    def list_async_jobs(self, tenant_id: str | None, limit: int, states: tuple[str, ...] = ()) -> list[dict]:
        clauses, params = [], []
        if tenant_id is not None:
            clauses.append("tenant_id = %s")
            params.append(tenant_id)
        if states:
            clauses.append("state = ANY(%s)")
            params.append(list(states))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(f"SELECT body FROM async_jobs {where} ORDER BY called_at, seq LIMIT %s", (*params, limit))
        return [json.loads(b) for (b,) in rows]

    def claim_async_jobs(self, now: float, states: tuple[str, ...], limit: int = 1) -> list[dict]:
        """Inside a transaction: lock the next due jobs in ``states`` that no other transaction holds.

        The locks last until the transaction ends; a process that dies holding them loses its
        connection, PostgreSQL rolls the transaction back, and the jobs are free to claim again.
        """
        rows = self._query(
            "SELECT body FROM async_jobs WHERE state = ANY(%s) AND due_at <= %s "
            "ORDER BY due_at, called_at, seq LIMIT %s FOR UPDATE SKIP LOCKED",
            (list(states), now, limit),
        )
        return [json.loads(b) for (b,) in rows]

    def next_async_due(self, states: tuple[str, ...]) -> float | None:
        """When the earliest job in ``states`` becomes due (None when there is none)."""
        return self._query("SELECT min(due_at) FROM async_jobs WHERE state = ANY(%s)", (list(states),))[0][0]

    # -- fault rules shared by processes --------------------------------------------------------

    def add_fault_rule(
        self, rule_id: str | None, raw: dict, tenant_id: str | None, times: int | None, at: float
    ) -> str | None:
        """Store a rule (``fault-<n>`` when ``rule_id`` is None); its id, or None when the id is taken."""
        with self.transaction() as db:
            if rule_id is None:
                number = db.execute("SELECT nextval(pg_get_serial_sequence('fault_rules', 'seq'))").fetchone()[0]
                rule_id = f"fault-{number}"
            added = db.execute(
                "INSERT INTO fault_rules (id, tenant_id, created_at, times, body) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (rule_id, tenant_id, at, times, json.dumps(raw)),
            ).rowcount
            if added:
                db.execute("SELECT pg_notify(%s, '')", (FAULTS_CHANNEL,))
            return rule_id if added else None

    def list_fault_rules(self) -> list[dict]:
        """Every rule in the order added: ``id``, ``raw``, ``created_at``, ``fired``."""
        rows = self._query("SELECT id, body, created_at, fired FROM fault_rules ORDER BY seq")
        return [{"id": i, "raw": json.loads(b), "created_at": at, "fired": f} for i, b, at, f in rows]

    def fire_fault_rule(self, rule_id: str) -> int | None:
        """Take one firing: the rule's firings so far, or None when it is used up or gone (one statement,
        so a rule limited to N firings fires N times however many processes ask)."""
        rows = self._query(
            "UPDATE fault_rules SET fired = fired + 1 WHERE id = %s AND (times IS NULL OR fired < times) "
            "RETURNING fired",
            (rule_id,),
        )
        return rows[0][0] if rows else None

    def remove_fault_rules(self, *, rule_id: str | None = None, tenant_id: str | None = None) -> int:
        """Remove one rule (``rule_id``), a tenant's rules (``tenant_id``) or, with neither, all."""
        with self.transaction() as db:
            if rule_id is not None:
                removed = db.execute("DELETE FROM fault_rules WHERE id = %s", (rule_id,)).rowcount
            elif tenant_id is not None:
                removed = db.execute("DELETE FROM fault_rules WHERE tenant_id = %s", (tenant_id,)).rowcount
            else:
                removed = db.execute("DELETE FROM fault_rules").rowcount
            if removed:
                db.execute("SELECT pg_notify(%s, '')", (FAULTS_CHANNEL,))
            return removed

    # -- the request journal, shared by processes ------------------------------------------------
    # Tenants are keyed by id; '' stands for the unknown tenant (calls that failed authentication).

    def record_journal(
        self, tenant_key: str, at: float, method: str | None, status: int | None, size: int, body: str,
        keep: int, max_bytes: int,
    ) -> int:  # fmt: skip
        """Add an entry, evicting past ``keep`` per tenant and ``max_bytes`` in all; the entry's id."""
        return self._query(
            "SELECT sfmc_journal_record(%s, %s, %s, %s, %s, %s, %s, %s)",
            (tenant_key, at, method, status, size, body, keep, max_bytes),
        )[0][0]

    def journal_entries(self, where: dict, limit: int | None) -> list[tuple[int, str]]:
        """(id, body) newest first; ``where`` may hold ``tenant_key``, ``method``, ``status``,
        ``status_class``, ``since`` (time), ``since_id`` and ``id``."""
        condition, params = _journal_where(where)
        sql = f"SELECT id, body FROM journal {condition} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._query(sql, params)

    def count_journal(self, where: dict) -> int:
        condition, params = _journal_where(where)
        return self._query(f"SELECT count(*) FROM journal {condition}", params)[0][0]

    def clear_journal(self, tenant_key: str | None = None) -> int:
        """Remove every entry (or one tenant's) with the eviction counts; how many entries went."""
        with self.transaction() as db:
            if tenant_key is None:
                db.execute("DELETE FROM journal_tenants")
                return db.execute("DELETE FROM journal").rowcount
            db.execute("DELETE FROM journal_tenants WHERE tenant_key = %s", (tenant_key,))
            return db.execute("DELETE FROM journal WHERE tenant_key = %s", (tenant_key,)).rowcount

    def journal_tenants(self) -> dict[str, tuple[int, int, int]]:
        """tenant key -> (entries held, bytes held, entries evicted)."""
        rows = self._query("SELECT tenant_key, held, bytes, evicted FROM journal_tenants")
        return {key: (held, size, evicted) for key, held, size, evicted in rows}

    # -- statistics counters, shared by processes ------------------------------------------------

    def add_stats(self, rows: list[tuple[str, str, str, int]], prune_before: float | None = None) -> None:
        """Add (tenant key, kind, name, delta) to the totals in one statement (rows sorted and unique,
        so concurrent adders lock in one order); drop per-second points older than ``prune_before``."""
        with self.transaction() as db:
            if rows:
                keys, kinds, names, values = (list(column) for column in zip(*rows, strict=True))
                db.execute(
                    "INSERT INTO stats AS s (tenant_key, kind, name, value) "
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[]) ORDER BY 1, 2, 3 "
                    "ON CONFLICT (tenant_key, kind, name) DO UPDATE SET value = s.value + excluded.value",
                    (keys, kinds, names, values),
                )
            if prune_before is not None:
                db.execute("DELETE FROM stats WHERE kind IN ('sa', 'st') AND name::bigint < %s", (int(prune_before),))

    def stats_rows(self, tenant_key: str | None, kinds: tuple[str, ...]) -> list[tuple[str, str, str, int]]:
        """(tenant key, kind, name, value) of one tenant or (None) all, of the given kinds."""
        if tenant_key is None:
            return self._query("SELECT tenant_key, kind, name, value FROM stats WHERE kind = ANY(%s)", (list(kinds),))
        return self._query(
            "SELECT tenant_key, kind, name, value FROM stats WHERE tenant_key = %s AND kind = ANY(%s)",
            (tenant_key, list(kinds)),
        )

    def forget_stats(self, tenant_key: str | None = None) -> None:
        if tenant_key is None:
            self._execute("DELETE FROM stats")
        else:
            self._execute("DELETE FROM stats WHERE tenant_key = %s", (tenant_key,))

    # -- Journey Builder, contacts --------------------------------------------------------------

    def put_event_definition(self, tenant_id: str, definition: dict) -> None:
        self._execute(
            "INSERT INTO event_definitions (tenant_id, id, key, body) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (tenant_id, id) DO UPDATE SET key = excluded.key, body = excluded.body",
            (tenant_id, definition["id"], definition["key"], json.dumps(definition)),
        )

    def list_event_definitions(self, tenant_id: str) -> list[dict]:
        rows = self._query("SELECT body FROM event_definitions WHERE tenant_id = %s ORDER BY seq", (tenant_id,))
        return [json.loads(b) for (b,) in rows]

    def delete_event_definition(self, tenant_id: str, definition_id: str) -> bool:
        return (
            self._execute("DELETE FROM event_definitions WHERE tenant_id = %s AND id = %s", (tenant_id, definition_id))
            > 0
        )

    def add_journey_entry(self, tenant_id: str, entry: dict) -> None:
        self._execute("INSERT INTO journey_entries (tenant_id, body) VALUES (%s, %s)", (tenant_id, json.dumps(entry)))

    def list_journey_entries(self, tenant_id: str, limit: int) -> list[dict]:
        rows = self._query(
            "SELECT body FROM journey_entries WHERE tenant_id = %s ORDER BY id DESC LIMIT %s", (tenant_id, limit)
        )
        return [json.loads(b) for (b,) in rows]

    def get_contact(self, tenant_id: str, *, key: str | None = None, contact_id: int | None = None) -> dict | None:
        column, value = ("contact_key", key) if key is not None else ("contact_id", contact_id)
        rows = self._query(f"SELECT body FROM contacts WHERE tenant_id = %s AND {column} = %s", (tenant_id, value))
        return json.loads(rows[0][0]) if rows else None

    def put_contact(self, tenant_id: str, contact: dict) -> None:
        self._execute(
            "INSERT INTO contacts (tenant_id, contact_key, contact_id, body) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (tenant_id, contact_key) DO UPDATE SET contact_id = excluded.contact_id, body = excluded.body",
            (tenant_id, contact["contactKey"], contact["contactId"], json.dumps(contact)),
        )

    def last_contact_id(self, tenant_id: str) -> int:
        return self._query("SELECT coalesce(max(contact_id), 0) FROM contacts WHERE tenant_id = %s", (tenant_id,))[0][0]

    def list_contacts(self, tenant_id: str, limit: int) -> list[dict]:
        rows = self._query(
            "SELECT body FROM contacts WHERE tenant_id = %s ORDER BY contact_id LIMIT %s", (tenant_id, limit)
        )
        return [json.loads(b) for (b,) in rows]

    # -- housekeeping -------------------------------------------------------------------------

    def reset(self, tenant_id: str | None = None) -> None:
        """Forget rows, tokens and logs; tenants and their Data Extension definitions stay."""
        with self.transaction() as db:
            if tenant_id is None:
                for table in ("rows", "tokens", "writes", "async_jobs", "journey_entries", "contacts", "buckets"):
                    db.execute(f"DELETE FROM {table}")
            else:
                self._delete_tenant_data(db, tenant_id, keep_definitions=True)

    def _delete_tenant_data(self, db, tenant_id: str, keep_definitions: bool) -> None:
        db.execute("DELETE FROM rows WHERE tenant_id = %s", (tenant_id,))
        for table in ("tokens", "writes", "async_jobs", "journey_entries", "contacts", "buckets"):
            db.execute(f"DELETE FROM {table} WHERE tenant_id = %s", (tenant_id,))
        if not keep_definitions:
            db.execute("DELETE FROM data_extensions WHERE tenant_id = %s", (tenant_id,))
            db.execute("DELETE FROM event_definitions WHERE tenant_id = %s", (tenant_id,))


_JOURNAL_FILTERS = {
    "tenant_key": "tenant_key = %s",
    "method": "method = %s",
    "status": "status = %s",
    "status_class": "coalesce(status, 0) / 100 = %s",
    "since": "at >= %s",
    "since_id": "id > %s",
    "id": "id = %s",
}


def _journal_where(where: dict) -> tuple[str, list]:
    clauses = [_JOURNAL_FILTERS[name] for name in where]
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), list(where.values())


def _where_sql(node) -> tuple[str, list]:
    """A filter tree (columns already resolved to canonical names) as SQL over the JSON rows."""
    if node is None:
        return "", []
    if isinstance(node, Compare):
        return _compare_sql(node)
    if isinstance(node, BoolOp):
        left, lp = _where_sql(node.left)
        right, rp = _where_sql(node.right)
        return f"({left} {node.op.upper()} {right})", lp + rp
    raise TypeError(f"not a filter node: {node!r}")


_ORDER = {"gt": ">", "lt": "<", "ge": ">=", "le": "<="}


def _compare_sql(node: Compare) -> tuple[str, list]:
    """One comparison; the same verdicts as the SQLite store's (text compares byte-wise, as there)."""
    value = "(data::jsonb ->> %s)"
    if node.op == "null":
        return f"coalesce({value}, '') = ''", [node.column]
    if node.op == "notnull":
        return f"coalesce({value}, '') <> ''", [node.column]
    if node.numeric and node.op in (*_ORDER, "between", "eq", "ne"):
        number = f"CAST(NULLIF({value}, '') AS double precision)"
        if node.op == "between":
            return f"{number} BETWEEN %s AND %s", [node.column, float(node.values[0]), float(node.values[1])]
        op = {"eq": "=", "ne": "IS DISTINCT FROM", **_ORDER}[node.op]
        return f"{number} {op} %s", [node.column, float(node.value)]
    if node.op in _ORDER:
        return f'{value} COLLATE "C" {_ORDER[node.op]} %s', [node.column, str(node.value)]
    if node.op == "between":
        return f'{value} COLLATE "C" BETWEEN %s AND %s', [node.column, *map(str, node.values[:2])]
    if node.op == "like":
        return f"lower({value}) LIKE lower(%s)", [node.column, str(node.value)]
    if node.op == "in":
        return f"lower({value}) = ANY(%s)", [node.column, [str(v).lower() for v in node.values]]
    op = "=" if node.op == "eq" else "IS DISTINCT FROM"
    return f"lower({value}) {op} lower(%s)", [node.column, str(node.value)]
