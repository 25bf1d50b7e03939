"""SQLite implementation of the storage interface (standard library only).

One connection guarded by a lock: SQLite serialises writers anyway, and a single connection
keeps ``:memory:`` databases shared by every server thread. WAL with ``synchronous=NORMAL``
means a transaction that returned is on disk for any later process, including after the
emulator is killed. Rows live in one generic table keyed by (row set, row key), with the row as
JSON, so reads can filter with ``json_extract``; a row set is one tenant's Data Extension
(``row_sets`` numbers each (tenant, Data Extension id) once, so rows and their indexes carry a small
integer instead of both ids). Every other key starts with the tenant (see ``base.py``).
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from contextlib import contextmanager, nullcontext
from itertools import islice
from typing import cast

import orjson

from ..domain.data_extensions import DataExtension
from ..domain.fields import FieldSpec
from ..domain.filters import BoolOp, Compare
from ..domain.tenants import Tenant
from ..json_reader import loads as read_json
from .migrations import MIGRATIONS, statements

# from this many rows a write goes in as one statement over json_each (below it, json_each saves
# nothing: at 50 rows it cost 90 us against executemany's 110 and a multi-row VALUES statement's 70)
BATCH_ROWS = 100
# rows per json_each statement: SQLite copies the bound text and parses all of it (some 3 KiB a row, in
# all), so one statement for 32,000 rows asked the system for about 28 MB of fresh pages on every write;
# statements of this many rows reuse the memory the one before freed (the same CPU otherwise)
BATCH_CHUNK = 2000
# from this many rows (below BATCH_ROWS) a write binds its rows in one multi-row VALUES statement: a
# 50-row upsert took about 110 us through executemany and 70 us this way (one statement stepped once
# instead of fifty); below it, executemany costs as little. Each count of rows is a statement of its
# own, kept prepared in the connection's statement cache (STATEMENT_CACHE)
MULTI_ROWS = 8
# prepared statements kept by the connection: the reads and writes of every row count up to a few
# hundred (their IN lists and VALUES rows) besides the store's fixed statements
STATEMENT_CACHE = 512
_INSERT_ROWS = "INSERT INTO rows (set_no, row_key, data) VALUES "
_ON_KEY = " ON CONFLICT (set_no, row_key) DO UPDATE SET data = "
_UPSERT = _ON_KEY + "excluded.data"
# one keyed row (executemany's statement; alone, outside a transaction, its own transaction)
_UPSERT_ROW = _INSERT_ROWS + "(?, ?, ?)" + _UPSERT
# one keyed row whose update merges into the stored row (``merge_row``): RFC 7396's merge, which replaces
# the members the patch names in place and appends the others, as ``{**stored, **patch}`` orders them
_MERGE_ROW = _INSERT_ROWS + "(?, ?, ?)" + _ON_KEY + "json_patch(data, ?)"
_ROW_BY_KEY = "SELECT row_key, data FROM rows WHERE set_no = ? AND row_key IN (?)"


class SQLiteStore:
    shared = False  # one process: the emulator keeps throttle buckets and the job queue in memory

    def __init__(self, path: str = ":memory:"):
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, cached_statements=STATEMENT_CACHE
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        # statement journals (a write of many rows in one statement keeps one, to undo the statement
        # alone) and temporary b-trees in memory: the default spills a journal past 64 KiB to a
        # temporary file. Neither is read after a crash: the WAL is what makes commits durable.
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._row_sets: dict[tuple[str, str], int] = {}  # (tenant, DE id) -> row set number, as committed
        # (tenant, DE id) whose last insert_new_rows found a key stored: its writes read their keys first (no
        # insert tried) until a read of several keys finds none of them stored
        self._reads_first: set[tuple[str, str]] = set()
        self._migrate()

    # -- plumbing -----------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version + 1, len(MIGRATIONS) + 1):
                script = ";\n".join(statements(number, "sqlite"))
                self._db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")

    @contextmanager
    def transaction(self, pipeline: bool = False):  # pipeline: no round trips to save in-process
        with self._lock:
            if self._db.in_transaction:  # nested in this thread's transaction (the lock is re-entrant)
                with self._savepoint():
                    yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._row_sets.clear()  # numbers assigned in the transaction are gone with it
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except BaseException:
                self._row_sets.clear()
                raise

    @contextmanager
    def _savepoint(self):
        self._db.execute("SAVEPOINT nested")
        try:
            yield
        except BaseException:
            self._row_sets.clear()
            self._db.execute("ROLLBACK TO nested")
            self._db.execute("RELEASE nested")
            raise
        self._db.execute("RELEASE nested")

    def _query(self, sql: str, params=()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- tenants ------------------------------------------------------------------------------

    def put_tenant(self, tenant: Tenant) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO tenants (id, body) VALUES (?, ?)", (tenant.id, json.dumps(tenant.to_dict()))
            )

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        rows = self._query("SELECT body FROM tenants WHERE id = ?", (tenant_id,))
        return Tenant.from_dict(json.loads(rows[0][0])) if rows else None

    def list_tenants(self) -> list[Tenant]:
        return [Tenant.from_dict(json.loads(b)) for (b,) in self._query("SELECT body FROM tenants ORDER BY id")]

    def delete_tenant(self, tenant_id: str) -> bool:
        with self.transaction() as db:
            self._delete_tenant_data(db, tenant_id, keep_definitions=False)
            return db.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,)).rowcount > 0

    # -- data extensions ----------------------------------------------------------------------

    def put_data_extension(self, tenant_id: str, de: DataExtension) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO data_extensions (tenant_id, id, key, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant_id, id) DO UPDATE SET key = excluded.key, body = excluded.body",  # keeps its place
                (tenant_id, de.id, de.key, json.dumps(_de_to_json(de))),
            )

    def list_data_extensions(self, tenant_id: str) -> list[DataExtension]:
        rows = self._query("SELECT body FROM data_extensions WHERE tenant_id = ? ORDER BY rowid", (tenant_id,))
        return [_de_from_json(json.loads(b)) for (b,) in rows]

    def delete_data_extension(self, tenant_id: str, de_id: str) -> bool:
        with self.transaction() as db:
            no = self._row_set(tenant_id, de_id)
            if no is not None:
                db.execute("DELETE FROM rows WHERE set_no = ?", (no,))
            cursor = db.execute("DELETE FROM data_extensions WHERE tenant_id = ? AND id = ?", (tenant_id, de_id))
            return cursor.rowcount > 0

    # -- rows ---------------------------------------------------------------------------------

    def _row_set(self, tenant_id: str, de_id: str, create: bool = False) -> int | None:
        """The number of a Data Extension's row set (None when it never had a row and ``create`` is off).

        Numbers are never deleted (a deleted Data Extension's rows are), so a cached number stays
        right; only a rolled-back transaction can take back a number it assigned, and a rollback
        empties the cache. Callers hold the store's lock from here to their last use of the number,
        so no rollback happens between the two."""
        key = (tenant_id, de_id)
        no = self._row_sets.get(key)
        if no is not None:
            return no
        with self._lock:
            found = self._db.execute(
                "SELECT no FROM row_sets WHERE tenant_id = ? AND de_id = ?", (tenant_id, de_id)
            ).fetchone()
            if found is not None:
                no = found[0]
            elif create:
                no = self._db.execute(
                    "INSERT INTO row_sets (tenant_id, de_id) VALUES (?, ?)", (tenant_id, de_id)
                ).lastrowid
            else:
                return None
            self._row_sets[key] = no
            return no

    def delete_rows(self, tenant_id: str, de_id: str, row_keys: list[str]) -> int:
        deleted = 0
        with self.transaction() as db:
            no = self._row_set(tenant_id, de_id)
            if no is None:
                return 0
            for start in range(0, len(row_keys), 500):
                chunk = row_keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                cursor = db.execute(f"DELETE FROM rows WHERE set_no = ? AND row_key IN ({marks})", (no, *chunk))
                deleted += cursor.rowcount
        return deleted

    def rows_by_key(self, tenant_id: str, de_id: str, row_keys: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        if not row_keys:
            return found
        if len(row_keys) == 1:  # a 1-row upsert: the statement as it stands, no chunks
            with self._lock:
                no = self._row_set(tenant_id, de_id)
                if no is not None:
                    for key, data in self._db.execute(_ROW_BY_KEY, (no, row_keys[0])).fetchall():
                        found[key] = stored_row(data)
            return found
        unique = list(dict.fromkeys(row_keys))
        with self._lock:  # the number and the rows read under one hold of the lock (see _row_set)
            no = self._row_set(tenant_id, de_id)
            if no is None:
                return found
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, data in self._db.execute(
                    f"SELECT row_key, data FROM rows WHERE set_no = ? AND row_key IN ({marks})", (no, *chunk)
                ).fetchall():
                    found[key] = stored_row(data)
            if not found:  # new keys again: the next write of new rows may go in without this read
                self._reads_first.discard((tenant_id, de_id))
        return found

    def write_rows(self, tenant_id: str, de_id: str, writes: dict[str, dict], appends: list[dict]) -> None:
        """From ``BATCH_ROWS`` rows, one statement per kind of write and ``BATCH_CHUNK`` rows: the rows go
        in as one JSON text that SQLite's ``json_each`` walks in order (a 32,000-row write spends about a
        quarter less CPU than binding each row through ``executemany``). Each stored row is the text
        ``row_json`` writes for it: ``json_each`` gives an object member's text as it stands in the batch.
        Rows orjson refuses, or a row key holding a NUL character (``json_each`` would cut the key there),
        go row by row.

        One row of a row set whose number is known, outside a transaction (a sync write alone in its
        group), goes in as one statement in SQLite's autocommit: it commits when it returns, as the
        transaction would, without the ``BEGIN IMMEDIATE`` and ``COMMIT`` calls (8-10 us less CPU per
        1-row upsert). Known means committed: a rollback empties the numbers' cache (``_row_set``)."""
        if len(writes) == 1 and not appends:
            with self._lock:
                no = self._row_sets.get((tenant_id, de_id))
                if no is not None and not self._db.in_transaction:
                    ((key, data),) = writes.items()
                    self._db.execute(_UPSERT_ROW, (no, key, row_json(data)))
                    return
        with self.transaction() as db:
            no = self._row_set(tenant_id, de_id, create=True)
            if writes:
                if len(writes) >= BATCH_ROWS and "\x00" not in "".join(writes):
                    pairs = iter(writes.items())
                    for _ in range(0, len(writes), BATCH_CHUNK):
                        self._upsert_rows(db, no, dict(islice(pairs, BATCH_CHUNK)))
                else:
                    self._upsert_rows(db, no, writes, batch=False)
            for start in range(0, len(appends), BATCH_CHUNK):
                chunk = appends[start : start + BATCH_CHUNK]
                batch = _batch_json(chunk) if len(appends) >= BATCH_ROWS else None
                if batch is not None:
                    db.execute(
                        "INSERT INTO rows (set_no, row_key, data) SELECT ?, NULL, value FROM json_each(?)", (no, batch)
                    )
                else:
                    db.executemany(
                        "INSERT INTO rows (set_no, row_key, data) VALUES (?, NULL, ?)",
                        [(no, row_json(data)) for data in chunk],
                    )

    def insert_new_rows(self, tenant_id: str, de_id: str, writes: dict[str, dict]) -> bool:
        """Store ``writes`` as new rows, as ``write_rows`` would, when no key among them is stored; else store
        nothing and answer False (also for counts of rows this store does not insert this way).

        One plain ``INSERT`` of ``MULTI_ROWS`` to ``BATCH_ROWS - 1`` rows: a stored key fails the statement on
        the unique index, and SQLite undoes a failed statement alone (its statement journal), so a write
        of new rows needs no read of their keys before it (28-44 us of CPU for 50 keys). Inside the caller's
        transaction (a group of writes) the statement is the whole of it; outside, it commits alone in SQLite's
        autocommit when its row set's number is known (as ``write_rows``' lone write), else in a transaction.

        After a key was found stored, the Data Extension's writes are not tried this way (False) until a read
        of several of its keys finds none stored: a stream of updates pays one failed statement (30-94 us of
        CPU for 50 rows, the stored key first or last), not one a write."""
        if not MULTI_ROWS <= len(writes) < BATCH_ROWS:
            return False
        with self._lock:
            if (tenant_id, de_id) in self._reads_first:
                return False
            no = self._row_sets.get((tenant_id, de_id))
            try:
                if no is not None and not self._db.in_transaction:
                    # alone, its row set known (committed): one statement in SQLite's autocommit, committed
                    # when it returns, as write_rows' lone write
                    self._db.execute(_multi_row_insert(len(writes)), self._row_params(no, writes))
                else:
                    with nullcontext(self._db) if self._db.in_transaction else self.transaction() as db:
                        no = self._row_set(tenant_id, de_id, create=True)
                        db.execute(_multi_row_insert(len(writes)), self._row_params(no, writes))
            except sqlite3.IntegrityError:  # a key already stored: the statement changed nothing
                self._reads_first.add((tenant_id, de_id))
                return False
        return True

    @staticmethod
    def _row_params(no: int, writes: dict[str, dict]) -> list[object]:
        """The multi-row statements' parameters: (row set, key, stored text) of each row, in order."""
        params: list[object] = [no] * (3 * len(writes))
        params[1::3] = writes
        try:  # row_json of each row, without its call per row
            params[2::3] = map(bytes.decode, map(orjson.dumps, writes.values()))
        except (orjson.JSONEncodeError, UnicodeDecodeError):
            params[2::3] = map(row_json, writes.values())
        return params

    def merge_row(self, tenant_id: str, de_id: str, row_key: str, data: dict, keep: tuple[str, ...]) -> None:
        """Upsert one row; an update merges it into the stored row, whose other columns and ``keep`` columns
        stay as stored (``Store.merge_row``). One statement, without reading the stored row: SQLite's
        ``json_patch`` merges the row's text into the stored text, where ``{**stored, **row}`` would.

        ``json_patch`` matches members by their text as written and drops those a patch sets to null, so a
        row holding a null, or a column name that orjson and ``json.dumps`` (a row stored with a lone
        surrogate) may write differently (beyond printable ASCII), is read and written as ``write_rows``
        writes it. With the row set's number known the write is that one statement, which outside a
        transaction commits alone (``write_rows``' lone write) and inside one needs no savepoint: a statement
        that fails leaves nothing of itself. Every path undoes all it wrote when it raises."""
        patch = dict(data)
        for name in keep:
            patch.pop(name, None)
        names = "".join(data)
        if None in patch.values() or not (names.isascii() and names.isprintable()):
            with self.transaction():
                stored = self.rows_by_key(tenant_id, de_id, [row_key]).get(row_key)
                if stored is not None:
                    data = {**stored, **patch}
                self.write_rows(tenant_id, de_id, {row_key: data}, [])
            return
        params = (row_key, row_json(data), row_json(patch))
        with self._lock:
            no = self._row_sets.get((tenant_id, de_id))
            if no is not None:  # one statement: alone it commits; in a transaction, if it fails, SQLite undoes it
                self._db.execute(_MERGE_ROW, (no, *params))
                return
            with self.transaction():  # the row set's number made and the row written, or neither
                self._db.execute(_MERGE_ROW, (self._row_set(tenant_id, de_id, create=True), *params))

    @staticmethod
    def _upsert_rows(db: sqlite3.Connection, no: int, writes: dict[str, dict], batch: bool = True) -> None:
        text = _batch_json(writes) if batch else None
        if text is not None:
            db.execute(
                "INSERT INTO rows (set_no, row_key, data) SELECT ?, key, value FROM json_each(?) WHERE true" + _UPSERT,
                (no, text),
            )
        elif len(writes) >= MULTI_ROWS:
            db.execute(_multi_row_upsert(len(writes)), SQLiteStore._row_params(no, writes))
        else:
            db.executemany(
                _UPSERT_ROW,
                [(no, key, row_json(data)) for key, data in writes.items()],
            )

    def lock_rows(self, tenant_id: str, de_id: str) -> None:
        """Inside a transaction: rows of one Data Extension are written by one transaction at a time
        (SQLite's transactions already take the whole database's write lock)."""

    def watch_definitions(self, callback) -> None:
        """Nothing to watch: one process owns a SQLite database."""

    def query_rows(self, tenant_id: str, de_id: str, where, offset: int, limit: int) -> tuple[list[dict], int]:
        clause, params = _where_sql(where)
        base = f"FROM rows WHERE set_no = ?{' AND ' + clause if clause else ''}"
        with self._lock:  # the number and the rows read under one hold of the lock (see _row_set)
            no = self._row_set(tenant_id, de_id)
            if no is None:
                return [], 0
            total = self._db.execute(f"SELECT count(*) {base}", (no, *params)).fetchone()[0]
            rows = self._db.execute(
                f"SELECT data {base} ORDER BY seq LIMIT ? OFFSET ?", (no, *params, limit, offset)
            ).fetchall()
        return [json.loads(d) for (d,) in rows], total

    # -- tokens -------------------------------------------------------------------------------

    def put_token(self, token: str, record: dict) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM tokens WHERE expires_at < ?", (time.time() - 86400,))
            db.execute(
                "INSERT INTO tokens (token, tenant_id, expires_at, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (token) DO UPDATE SET tenant_id = excluded.tenant_id, "
                "expires_at = excluded.expires_at, body = excluded.body",
                (token, record["tenant_id"], record["expires_at"], json.dumps(record)),
            )

    def get_token(self, token: str) -> dict | None:
        rows = self._query("SELECT body FROM tokens WHERE token = ?", (token,))
        return json.loads(rows[0][0]) if rows else None

    # -- throttle -----------------------------------------------------------------------------

    def take_token(self, tenant_id: str, rate: float, burst: float, now: float) -> tuple[bool, float]:
        """Take one token from the tenant's bucket: (let through, tokens left), in one transaction."""
        rate, burst = float(rate), float(burst)
        with self.transaction() as db:
            row = db.execute(
                "SELECT rate, burst, tokens, updated FROM buckets WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
            if row is None or (row[0], row[1]) != (rate, burst):
                tokens, updated = burst, now
            else:
                tokens = min(burst, row[2] + max(0.0, now - row[3]) * rate)
                updated = max(row[3], now)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            db.execute(
                "INSERT OR REPLACE INTO buckets (tenant_id, rate, burst, tokens, updated, allowed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (tenant_id, rate, burst, tokens, updated, int(allowed)),
            )
        return allowed, tokens

    def forget_buckets(self, tenant_id: str | None = None) -> None:
        with self.transaction() as db:
            if tenant_id is None:
                db.execute("DELETE FROM buckets")
            else:
                db.execute("DELETE FROM buckets WHERE tenant_id = ?", (tenant_id,))

    # -- write log ----------------------------------------------------------------------------

    def log_write(self, tenant_id: str, entry: dict) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO writes (tenant_id, at, body) VALUES (?, ?, ?)",
                (tenant_id, entry.get("at", time.time()), json.dumps(entry)),
            )

    def list_writes(self, tenant_id: str, limit: int) -> list[dict]:
        rows = self._query(
            "SELECT id, body FROM writes WHERE tenant_id = ? ORDER BY id DESC LIMIT ?", (tenant_id, limit)
        )
        return [{"id": i, **json.loads(b)} for i, b in rows]

    # -- async jobs, Journey Builder, contacts -------------------------------------------------

    def put_async_job(self, record: dict, items: list | None = None) -> None:
        """Insert or update a job; ``items`` are written only when given, and cleared once it finished."""
        body = json.dumps(record)
        with self.transaction() as db:
            if items is not None:
                db.execute(
                    "INSERT INTO async_jobs (id, tenant_id, state, called_at, due_at, body, items) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, id) DO UPDATE SET "
                    "state = excluded.state, called_at = excluded.called_at, due_at = excluded.due_at, "
                    "body = excluded.body, items = excluded.items",
                    (
                        record["id"],
                        record["tenant_id"],
                        record["state"],
                        record["called_at"],
                        record.get("due_at", record["called_at"]),
                        body,
                        row_json(items),
                    ),
                )
            else:
                finished = record["state"] in ("Complete", "Error")
                db.execute(
                    f"UPDATE async_jobs SET state = ?, due_at = coalesce(?, due_at), body = ?"
                    f"{', items = NULL' if finished else ''} WHERE tenant_id = ? AND id = ?",
                    (record["state"], record.get("due_at"), body, record["tenant_id"], record["id"]),
                )

    def get_async_job(self, tenant_id: str, job_id: str) -> dict | None:
        rows = self._query("SELECT body FROM async_jobs WHERE tenant_id = ? AND id = ?", (tenant_id, job_id))
        return json.loads(rows[0][0]) if rows else None

    def async_job_items(self, tenant_id: str, job_id: str) -> list | None:
        rows = self._query("SELECT items FROM async_jobs WHERE tenant_id = ? AND id = ?", (tenant_id, job_id))
        return items_from_json(rows[0][0]) if rows and rows[0][0] is not None else None

    def list_async_jobs(self, tenant_id: str | None, limit: int, states: tuple[str, ...] = ()) -> list[dict]:
        clauses, params = [], []
        if tenant_id is not None:
            clauses.append("tenant_id = ?")
            params.append(tenant_id)
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(states)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(f"SELECT body FROM async_jobs {where} ORDER BY called_at, rowid LIMIT ?", (*params, limit))
        return [json.loads(b) for (b,) in rows]

    def claim_async_jobs(self, now: float, states: tuple[str, ...], limit: int = 1) -> list[dict]:
        """Inside a transaction: the next due jobs in ``states`` (SQLite's write lock keeps them to us)."""
        marks = ",".join("?" * len(states))
        rows = self._query(
            f"SELECT body FROM async_jobs WHERE state IN ({marks}) AND due_at <= ? "
            "ORDER BY due_at, called_at, rowid LIMIT ?",
            (*states, now, limit),
        )
        return [json.loads(b) for (b,) in rows]

    def next_async_due(self, states: tuple[str, ...]) -> float | None:
        """When the earliest job in ``states`` becomes due (None when there is none)."""
        marks = ",".join("?" * len(states))
        return self._query(f"SELECT min(due_at) FROM async_jobs WHERE state IN ({marks})", states)[0][0]

    def put_event_definition(self, tenant_id: str, definition: dict) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO event_definitions (id, tenant_id, key, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant_id, id) DO UPDATE SET key = excluded.key, body = excluded.body",  # keeps its place
                (definition["id"], tenant_id, definition["key"], json.dumps(definition)),
            )

    def list_event_definitions(self, tenant_id: str) -> list[dict]:
        rows = self._query("SELECT body FROM event_definitions WHERE tenant_id = ? ORDER BY rowid", (tenant_id,))
        return [json.loads(b) for (b,) in rows]

    def delete_event_definition(self, tenant_id: str, definition_id: str) -> bool:
        with self.transaction() as db:
            return (
                db.execute(
                    "DELETE FROM event_definitions WHERE tenant_id = ? AND id = ?", (tenant_id, definition_id)
                ).rowcount
                > 0
            )

    def add_journey_entry(self, tenant_id: str, entry: dict) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO journey_entries (tenant_id, body) VALUES (?, ?)", (tenant_id, json.dumps(entry)))

    def list_journey_entries(self, tenant_id: str, limit: int) -> list[dict]:
        rows = self._query(
            "SELECT body FROM journey_entries WHERE tenant_id = ? ORDER BY id DESC LIMIT ?", (tenant_id, limit)
        )
        return [json.loads(b) for (b,) in rows]

    def get_contact(self, tenant_id: str, *, key: str | None = None, contact_id: int | None = None) -> dict | None:
        column, value = ("contact_key", key) if key is not None else ("contact_id", contact_id)
        rows = self._query(f"SELECT body FROM contacts WHERE tenant_id = ? AND {column} = ?", (tenant_id, value))
        return json.loads(rows[0][0]) if rows else None

    def put_contact(self, tenant_id: str, contact: dict) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO contacts (tenant_id, contact_key, contact_id, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant_id, contact_key) "
                "DO UPDATE SET contact_id = excluded.contact_id, body = excluded.body",
                (tenant_id, contact["contactKey"], contact["contactId"], json.dumps(contact)),
            )

    def last_contact_id(self, tenant_id: str) -> int:
        return self._query("SELECT coalesce(max(contact_id), 0) FROM contacts WHERE tenant_id = ?", (tenant_id,))[0][0]

    def list_contacts(self, tenant_id: str, limit: int) -> list[dict]:
        rows = self._query(
            "SELECT body FROM contacts WHERE tenant_id = ? ORDER BY contact_id LIMIT ?", (tenant_id, limit)
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
        db.execute("DELETE FROM rows WHERE set_no IN (SELECT no FROM row_sets WHERE tenant_id = ?)", (tenant_id,))
        db.execute("DELETE FROM tokens WHERE tenant_id = ?", (tenant_id,))
        db.execute("DELETE FROM writes WHERE tenant_id = ?", (tenant_id,))
        for table in ("async_jobs", "journey_entries", "contacts", "buckets"):
            db.execute(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
        if not keep_definitions:
            db.execute("DELETE FROM data_extensions WHERE tenant_id = ?", (tenant_id,))
            db.execute("DELETE FROM event_definitions WHERE tenant_id = ?", (tenant_id,))


def _de_to_json(de: DataExtension) -> dict:
    return {
        "id": de.id,
        "key": de.key,
        "name": de.name,
        "is_sendable": de.is_sendable,
        "description": de.description,
        "category_id": de.category_id,
        "created_at": de.created_at,
        "fields": [vars(f) for f in de.fields],
    }


def _de_from_json(d: dict) -> DataExtension:
    return DataExtension(
        id=d["id"],
        key=d["key"],
        name=d["name"],
        fields=tuple(FieldSpec(**f) for f in d["fields"]),
        is_sendable=d["is_sendable"],
        description=d["description"],
        category_id=d["category_id"],
        created_at=d["created_at"],
    )


@functools.cache
def _multi_row_insert(count: int) -> str:
    """The insert of ``count`` keyed rows in one statement (rows inserted in the order of their VALUES)."""
    return _INSERT_ROWS + ",".join(["(?, ?, ?)"] * count)


@functools.cache
def _multi_row_upsert(count: int) -> str:
    """The upsert of ``count`` rows in one statement (rows inserted in the order of their VALUES)."""
    return _multi_row_insert(count) + _UPSERT


def row_json(data: dict | list) -> str:
    """A row (or an async job's items) as stored JSON text: orjson (compact, UTF-8) where it can
    encode it, else ``json.dumps``.

    Rows are read back with ``json.loads`` and filtered with ``json_extract``, which both read either
    form alike. orjson refuses what JSON text cannot hold exactly (a lone surrogate, an integer
    beyond 64 bits): those rows keep the standard library's encoding, so every row stores as before.
    (orjson would write a NaN or an infinity as null; request bodies holding one are refused before
    anything is stored, see ``api.common.parsed_json``, and stored rows hold only text.)
    """
    try:
        return orjson.dumps(data).decode()
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        return json.dumps(data)


def _batch_json(rows: dict[str, dict] | list[dict]) -> str | None:
    """Rows (by row key, or a list) as one JSON text in which each row reads exactly as ``row_json``
    writes it (orjson's compact encoding); None when orjson refuses any of them."""
    try:
        return orjson.dumps(rows).decode()
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        return None


def stored_row(text: str) -> dict:
    """A stored row read back: orjson where it can (an upsert over 32,000 stored rows reads them all),
    ``json.loads`` for the rows ``json.dumps`` wrote with a lone surrogate escaped, which orjson refuses.
    Stored values are text or null (the rules store every value as text), so both read them alike."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def items_from_json(text: str) -> list:
    """An async job's stored items, read as ``json.loads`` reads them (orjson where that is the same)."""
    return cast(list, read_json(text))


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
    path = '$."' + node.column + '"'
    value = "json_extract(data, ?)"
    if node.op == "null":
        return f"coalesce({value}, '') = ''", [path]
    if node.op == "notnull":
        return f"coalesce({value}, '') <> ''", [path]
    if node.numeric and node.op in (*_ORDER, "between", "eq", "ne"):
        number = f"CAST({value} AS REAL)"
        if node.op == "between":
            return f"{number} BETWEEN ? AND ?", [path, float(node.values[0]), float(node.values[1])]
        op = {"eq": "=", "ne": "IS NOT", **_ORDER}[node.op]
        return f"{number} {op} ?", [path, float(node.value)]
    if node.op in _ORDER:
        return f"{value} {_ORDER[node.op]} ?", [path, node.value]
    if node.op == "between":
        return f"{value} BETWEEN ? AND ?", [path, *node.values[:2]]
    if node.op == "like":
        return f"lower({value}) LIKE lower(?)", [path, node.value]
    if node.op == "in":
        marks = ",".join("lower(?)" for _ in node.values)
        return f"lower({value}) IN ({marks})", [path, *node.values]
    op = "=" if node.op == "eq" else "IS NOT"
    return f"lower({value}) {op} lower(?)", [path, node.value]
