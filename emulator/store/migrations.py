"""The schema, as one list of migrations for every backend.

Each entry moves a database one version up. The SQL is written once, with a few words that differ
between SQLite and PostgreSQL left as ``{placeholders}``:

- ``{serial}``: an integer key the database assigns in insertion order;
- ``{real}``: a double-precision number (epoch seconds, rates);
- ``{ordinal}``: nothing on SQLite (its ``rowid`` keeps insertion order), an insertion-order column on
  PostgreSQL, for tables listed in the order they were written.

An entry may instead be a dict of one script per dialect, where the two databases need different
statements for the same change (SQLite cannot change a primary key in place; PostgreSQL can).

SQLite records its version in ``PRAGMA user_version``; PostgreSQL in a ``schema_version`` table.
"""

from __future__ import annotations

MIGRATIONS = [
    """
    CREATE TABLE tenants (id TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE data_extensions (
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL{ordinal});
    CREATE UNIQUE INDEX data_extensions_key ON data_extensions (tenant_id, lower(key));
    CREATE TABLE rows (
        seq {serial}, de_id TEXT NOT NULL, row_key TEXT, data TEXT NOT NULL);
    CREATE UNIQUE INDEX rows_key ON rows (de_id, row_key);
    CREATE INDEX rows_de ON rows (de_id, seq);
    CREATE TABLE tokens (
        token TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, expires_at {real} NOT NULL, body TEXT NOT NULL);
    CREATE INDEX tokens_tenant ON tokens (tenant_id);
    CREATE TABLE writes (
        id {serial}, tenant_id TEXT NOT NULL, at {real} NOT NULL, body TEXT NOT NULL);
    CREATE INDEX writes_tenant ON writes (tenant_id, id);
    """,
    # async jobs (items kept until the job finishes), Journey Builder event definitions and entries, contacts
    """
    CREATE TABLE async_jobs (
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, state TEXT NOT NULL, called_at {real} NOT NULL,
        body TEXT NOT NULL, items TEXT{ordinal});
    CREATE INDEX async_jobs_tenant ON async_jobs (tenant_id, called_at);
    CREATE INDEX async_jobs_state ON async_jobs (state, called_at);
    CREATE TABLE event_definitions (
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL{ordinal});
    CREATE UNIQUE INDEX event_definitions_key ON event_definitions (tenant_id, lower(key));
    CREATE TABLE journey_entries (id {serial}, tenant_id TEXT NOT NULL, body TEXT NOT NULL);
    CREATE INDEX journey_entries_tenant ON journey_entries (tenant_id, id);
    CREATE TABLE contacts (
        tenant_id TEXT NOT NULL, contact_key TEXT NOT NULL, contact_id INTEGER NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, contact_key));
    CREATE UNIQUE INDEX contacts_id ON contacts (tenant_id, contact_id);
    """,
    # shared state for several emulator processes on one database: each tenant's token bucket
    # (rate and burst it was filled for, tokens left, when it was last topped up, whether the last call
    # got through) and when an async
    # job becomes due, so any process can claim the next one
    """
    CREATE TABLE buckets (
        tenant_id TEXT PRIMARY KEY, rate {real} NOT NULL, burst {real} NOT NULL, tokens {real} NOT NULL,
        updated {real} NOT NULL, allowed INTEGER NOT NULL);
    ALTER TABLE async_jobs ADD COLUMN due_at {real};
    CREATE INDEX async_jobs_due ON async_jobs (state, due_at);
    """,
    # every object keyed by its tenant: an id a client chose never reaches another tenant's object
    {
        "sqlite": """
    CREATE TABLE data_extensions_v4 (
        tenant_id TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id));
    INSERT INTO data_extensions_v4 (tenant_id, id, key, body)
        SELECT tenant_id, id, key, body FROM data_extensions ORDER BY rowid;
    CREATE TABLE rows_v4 (
        seq INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, de_id TEXT NOT NULL, row_key TEXT, data TEXT NOT NULL);
    INSERT INTO rows_v4 (seq, tenant_id, de_id, row_key, data)
        SELECT r.seq, d.tenant_id, r.de_id, r.row_key, r.data FROM rows r JOIN data_extensions d ON d.id = r.de_id;
    DROP TABLE rows;
    DROP TABLE data_extensions;
    ALTER TABLE data_extensions_v4 RENAME TO data_extensions;
    ALTER TABLE rows_v4 RENAME TO rows;
    CREATE UNIQUE INDEX data_extensions_key ON data_extensions (tenant_id, lower(key));
    CREATE UNIQUE INDEX rows_key ON rows (tenant_id, de_id, row_key);
    CREATE INDEX rows_de ON rows (tenant_id, de_id, seq);
    CREATE TABLE event_definitions_v4 (
        tenant_id TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id));
    INSERT INTO event_definitions_v4 (tenant_id, id, key, body)
        SELECT tenant_id, id, key, body FROM event_definitions ORDER BY rowid;
    DROP TABLE event_definitions;
    ALTER TABLE event_definitions_v4 RENAME TO event_definitions;
    CREATE UNIQUE INDEX event_definitions_key ON event_definitions (tenant_id, lower(key));
    CREATE TABLE async_jobs_v4 (
        tenant_id TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, called_at REAL NOT NULL,
        body TEXT NOT NULL, items TEXT, due_at REAL, PRIMARY KEY (tenant_id, id));
    INSERT INTO async_jobs_v4 (tenant_id, id, state, called_at, body, items, due_at)
        SELECT tenant_id, id, state, called_at, body, items, due_at FROM async_jobs ORDER BY rowid;
    DROP TABLE async_jobs;
    ALTER TABLE async_jobs_v4 RENAME TO async_jobs;
    CREATE INDEX async_jobs_tenant ON async_jobs (tenant_id, called_at);
    CREATE INDEX async_jobs_state ON async_jobs (state, called_at);
    CREATE INDEX async_jobs_due ON async_jobs (state, due_at);
    """,
        "postgresql": """
    ALTER TABLE rows ADD COLUMN tenant_id TEXT;
    UPDATE rows SET tenant_id = d.tenant_id FROM data_extensions d WHERE d.id = rows.de_id;
    DELETE FROM rows WHERE tenant_id IS NULL;
    ALTER TABLE rows ALTER COLUMN tenant_id SET NOT NULL;
    DROP INDEX rows_key;
    DROP INDEX rows_de;
    CREATE UNIQUE INDEX rows_key ON rows (tenant_id, de_id, row_key);
    CREATE INDEX rows_de ON rows (tenant_id, de_id, seq);
    ALTER TABLE data_extensions DROP CONSTRAINT data_extensions_pkey;
    ALTER TABLE data_extensions ADD PRIMARY KEY (tenant_id, id);
    ALTER TABLE event_definitions DROP CONSTRAINT event_definitions_pkey;
    ALTER TABLE event_definitions ADD PRIMARY KEY (tenant_id, id);
    ALTER TABLE async_jobs DROP CONSTRAINT async_jobs_pkey;
    ALTER TABLE async_jobs ADD PRIMARY KEY (tenant_id, id);
    """,
    },
    # what several processes on one database share beyond rows: fault rules with their firing counts,
    # the request journal (bounded, with evictions counted per tenant) and the statistics counters.
    # SQLite serves one process, which keeps these in memory (emulator/domain), so it needs no tables.
    {
        "sqlite": "",
        "postgresql": """
    CREATE TABLE fault_rules (
        seq BIGSERIAL, id TEXT PRIMARY KEY, tenant_id TEXT, created_at DOUBLE PRECISION NOT NULL,
        times INTEGER, fired INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);
    CREATE TABLE journal (
        id BIGSERIAL PRIMARY KEY, tenant_key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, method TEXT,
        status INTEGER, bytes INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE INDEX journal_tenant ON journal (tenant_key, id);
    CREATE TABLE journal_tenants (
        tenant_key TEXT PRIMARY KEY, held INTEGER NOT NULL, bytes BIGINT NOT NULL, evicted BIGINT NOT NULL);
    CREATE TABLE stats (
        tenant_key TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, value BIGINT NOT NULL,
        PRIMARY KEY (tenant_key, kind, name));
    """,
    },  # SQLite: a Data Extension's rows keyed by one small number instead of (tenant id, Data Extension id)
    # text in every row and in both indexes; a bulk write spends about a third less in SQLite. The
    # numbers are assigned on first write; PostgreSQL keeps its schema (its store sends arrays).
    {
        "sqlite": """
    CREATE TABLE row_sets (
        no INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, de_id TEXT NOT NULL, UNIQUE (tenant_id, de_id));
    INSERT INTO row_sets (tenant_id, de_id) SELECT DISTINCT tenant_id, de_id FROM rows ORDER BY tenant_id, de_id;
    CREATE TABLE rows_v6 (seq INTEGER PRIMARY KEY, set_no INTEGER NOT NULL, row_key TEXT, data TEXT NOT NULL);
    INSERT INTO rows_v6 (seq, set_no, row_key, data)
        SELECT r.seq, s.no, r.row_key, r.data FROM rows r
        JOIN row_sets s ON s.tenant_id = r.tenant_id AND s.de_id = r.de_id ORDER BY r.seq;
    DROP TABLE rows;
    ALTER TABLE rows_v6 RENAME TO rows;
    CREATE UNIQUE INDEX rows_key ON rows (set_no, row_key);
    CREATE INDEX rows_de ON rows (set_no, seq);
    """,
        "postgresql": "",
    },
]

DIALECTS = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY", "real": "REAL", "ordinal": ""},
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION", "ordinal": ", seq BIGSERIAL"},
}


def statements(version: int, dialect: str) -> list[str]:
    """The SQL statements of migration ``version`` (1-based) for ``dialect``."""
    entry = MIGRATIONS[version - 1]
    script = (entry[dialect] if isinstance(entry, dict) else entry).format(**DIALECTS[dialect])
    return [s.strip() for s in script.split(";") if s.strip()]
