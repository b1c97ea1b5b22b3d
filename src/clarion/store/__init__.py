"""Persistence: SQLAlchemy Core over SQLite (embedded) and PostgreSQL (distributed)."""

from clarion.store.migrations import migrate
from clarion.store.sql import UNAVAILABLE, SqlStore, Timeouts, call_budget, open_store

__all__ = ["UNAVAILABLE", "SqlStore", "Timeouts", "call_budget", "migrate", "open_store"]
