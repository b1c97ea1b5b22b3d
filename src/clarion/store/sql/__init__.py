"""The ``Store`` over SQLAlchemy Core, for SQLite and PostgreSQL."""

from clarion.store.sql.engine import UNAVAILABLE, Timeouts
from clarion.store.sql.store import SqlStore, open_store
from clarion.store.sql.watchdog import call_budget

__all__ = ["UNAVAILABLE", "SqlStore", "Timeouts", "call_budget", "open_store"]
