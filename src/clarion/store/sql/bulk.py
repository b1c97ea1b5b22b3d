"""Batches: splitting long id lists, and writing many rows in one statement,
each database its fastest way (``dialects``: a JSON batch on PostgreSQL, the
driver's ``executemany`` on SQLite)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.store.sql.chunks import CHUNK, chunked
from clarion.store.sql.dialects import Rows, dialect_of

__all__ = ["CHUNK", "Rows", "append", "chunked", "insert_new"]


def insert_new(conn: Connection, table: sa.Table, rows: Rows, key: str) -> set[str]:
    """Insert the rows whose ``key`` is not taken yet; the keys inserted.

    Every row has the same columns; the others take their defaults."""
    return dialect_of(conn).insert_new(conn, table, rows, key)


def append(conn: Connection, table: sa.Table, rows: Rows) -> None:
    """Insert every row (all with the same columns)."""
    dialect_of(conn).append(conn, table, rows)
