"""Persistence: SQLAlchemy Core over SQLite (embedded) and PostgreSQL (distributed)."""

from clarion.store.migrations import migrate
from clarion.store.sql import SqlStore, open_store

__all__ = ["SqlStore", "migrate", "open_store"]
