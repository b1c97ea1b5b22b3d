"""Delivery insights: messages counted per time bucket and per channel, provider,
country, status, reason or error code, grouped in the database.

Times are epoch seconds, so a bucket is ``floor(created_at / width)`` on both
dialects. The error code is the last ``:``-separated part of the reason of a
failed message (``provider_rejected:twilio:30003`` -> ``30003``), and the reason
group its first part (``frequency_capped:global:6/1d`` -> ``frequency_capped``);
each database spells those string functions its own way (``dialects``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core import reasons
from clarion.core.model import Status
from clarion.store.records import INSIGHT_GROUPS, DeliveryCount, DeliveryQuery
from clarion.store.schema import messages
from clarion.store.sql.convert import dt, ts
from clarion.store.sql.dialects import SqlDialect, dialect_of

_FAILURE_KINDS = (reasons.provider_rejected(""), f"{reasons.DEAD_LETTERED}:")


def delivery_counts(conn: Connection, query: DeliveryQuery) -> list[DeliveryCount]:
    """Counts per (bucket, group values), in bucket then group order; empty cells absent."""
    dialect = dialect_of(conn)
    m = messages.c
    width = float(query.bucket_seconds)
    bucket = dialect.floor(m.created_at / width).label("bucket")  # epoch times are positive
    groups = [_group(name, dialect).label(f"g_{name}") for name in query.group_by]
    since, until = ts(query.since), ts(query.until)
    created = dialect.range_column(conn, m.created_at, since, until)
    select = (
        sa.select(bucket, *groups, sa.func.count().label("n"))
        .where(created >= since, created < until)
        .group_by(bucket, *groups)
        # NULLs first on both (PostgreSQL would put them last).
        .order_by(bucket, *(sa.nulls_first(g) for g in groups))
    )
    for column, value in (
        (m.channel, query.channel.value if query.channel else None),
        (m.provider, query.provider),
        (m.message, query.message),
        (m.country, query.country),
        (m.status, query.status.value if query.status else None),
    ):
        if value is not None:
            select = select.where(column == value)
    return [
        DeliveryCount(dt(row.bucket * width), tuple(row[1:-1]), row.n)
        for row in conn.execute(select)
    ]


def _group(name: str, dialect: SqlDialect) -> sa.ColumnElement[Any]:
    if name not in INSIGHT_GROUPS:
        raise ValueError(f"unknown group {name!r}")
    m = messages.c
    if name == "reason":
        return dialect.first_part(m.reason, ":")
    if name == "error_code":
        failure = sa.or_(
            m.status == Status.FAILED.value, *(m.reason.startswith(k) for k in _FAILURE_KINDS)
        )
        last = dialect.last_part(m.reason, ":")
        return sa.case((failure, last), else_=sa.null())
    column: sa.ColumnElement[Any] = m[name]
    return column
