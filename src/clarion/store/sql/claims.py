"""Claiming rows under a lease."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row


def claim(
    conn: Connection,
    key: sa.Column[str],
    expired: sa.Select[Any],
    fresh: sa.Select[Any],
    limit: int,
    values: Mapping[str, object],
    returning: Sequence[sa.ColumnElement[Any]],
) -> tuple[list[Row[Any]], set[str]]:
    """Set ``values`` on up to ``limit`` rows and return them, with the keys of
    those whose lease had expired.

    ``expired`` and ``fresh`` select keys in claim order. Expired leases go
    first: they are overdue, and there are few of them, so the cheap query runs
    every time and the common case stays one UPDATE whose subquery walks an
    index in order. On PostgreSQL both lock with SKIP LOCKED, so concurrent
    claimers take disjoint rows; on SQLite ``BEGIN IMMEDIATE`` serializes them.
    """
    table = key.table
    expired = expired.limit(limit).with_for_update(skip_locked=True)
    reclaimed: list[str] = list(conn.execute(expired).scalars())
    rows: list[Row[Any]] = []
    if reclaimed:
        stmt = sa.update(table).where(key.in_(reclaimed)).values(values).returning(*returning)
        rows.extend(conn.execute(stmt))
    if len(rows) < limit:
        fresh = fresh.limit(limit - len(rows)).with_for_update(skip_locked=True)
        stmt = sa.update(table).where(key.in_(fresh)).values(values).returning(*returning)
        rows.extend(conn.execute(stmt))
    return rows, set(reclaimed)
