"""Storage behind one small interface (``Store``); SQLite is the implementation."""

from .base import Store
from .sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "open_store"]


def open_store(path: str) -> Store:
    """``path`` is a database file, or ``:memory:`` for a throw-away store."""
    return SQLiteStore(path)
