"""The two databases the store runs on, behind one ``SqlDialect`` (see ``base``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from clarion.store.sql.dialects.base import Insert, Rows, SqlDialect
from clarion.store.sql.dialects.postgresql import PostgreSQL
from clarion.store.sql.dialects.sqlite import SQLite
from clarion.store.sql.engine import DEFAULT_TIMEOUTS, Timeouts, normalize_url

__all__ = ["Insert", "Rows", "SqlDialect", "create_engine", "dialect_for", "dialect_of"]

_DIALECTS: dict[str, SqlDialect] = {d.name: d for d in (SQLite(), PostgreSQL())}


def dialect_for(url: sa.URL) -> SqlDialect:
    """The dialect of a database URL (chosen once, when the store's engine is made)."""
    backend = url.get_backend_name()
    found = _DIALECTS.get(backend)
    if found is None:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return found


def dialect_of(conn: Connection) -> SqlDialect:
    """The dialect of the engine ``conn`` belongs to."""
    return _DIALECTS[conn.dialect.name]


def create_engine(
    url: str, *, sqlite_synchronous: str = "NORMAL", timeouts: Timeouts = DEFAULT_TIMEOUTS
) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``)."""
    parsed = normalize_url(url)
    return dialect_for(parsed).create_engine(parsed, sqlite_synchronous, timeouts)
