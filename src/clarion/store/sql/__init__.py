"""The ``Store`` over SQLAlchemy Core, for SQLite and PostgreSQL."""

from clarion.store.sql.store import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
