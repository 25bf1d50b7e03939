"""Storage behind one small interface (``Store``): SQLite (the embedded default) or PostgreSQL."""

from .base import Store
from .sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "is_postgres_url", "open_store"]


def is_postgres_url(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


def open_store(database: str) -> Store:
    """``database`` is a SQLite file, ``:memory:`` for a throw-away store, or a ``postgresql://`` URL."""
    if is_postgres_url(database):
        from .postgres import PostgresStore

        return PostgresStore(database)
    return SQLiteStore(database)
