"""The schema, as one list of migrations for every backend.

Each entry moves a database one version up. The SQL is written once, with a few words that differ
between SQLite and PostgreSQL left as ``{placeholders}``:

- ``{serial}``: an integer key the database assigns in insertion order;
- ``{real}``: a double-precision number (epoch seconds, rates);
- ``{ordinal}``: nothing on SQLite (its ``rowid`` keeps insertion order), an insertion-order column on
  PostgreSQL, for tables listed in the order they were written.

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
]

DIALECTS = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY", "real": "REAL", "ordinal": ""},
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION", "ordinal": ", seq BIGSERIAL"},
}


def statements(version: int, dialect: str) -> list[str]:
    """The SQL statements of migration ``version`` (1-based) for ``dialect``."""
    script = MIGRATIONS[version - 1].format(**DIALECTS[dialect])
    return [s.strip() for s in script.split(";") if s.strip()]
