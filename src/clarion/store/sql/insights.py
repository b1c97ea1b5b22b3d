"""Delivery insights: messages counted per time bucket and per channel, provider,
country, status, reason or error code, grouped in the database.

Times are epoch seconds, so a bucket is ``floor(created_at / width)`` on both
dialects. The error code is the last ``:``-separated part of the reason of a
failed message (``provider_rejected:twilio:30003`` -> ``30003``), and the reason
group its first part (``frequency_capped:global:6/1d`` -> ``frequency_capped``);
each dialect spells those string functions its own way.
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
from clarion.store.sql.engine import is_postgres

_FAILURE_KINDS = (reasons.provider_rejected(""), f"{reasons.DEAD_LETTERED}:")


def delivery_counts(conn: Connection, query: DeliveryQuery) -> list[DeliveryCount]:
    """Counts per (bucket, group values), in bucket then group order; empty cells absent."""
    pg = is_postgres(conn)
    m = messages.c
    width = float(query.bucket_seconds)
    bucket = (
        sa.cast(sa.func.floor(m.created_at / width), sa.BigInteger)
        if pg
        else sa.cast(m.created_at / width, sa.Integer)  # epoch times are positive
    ).label("bucket")
    groups = [_group(name, pg).label(f"g_{name}") for name in query.group_by]
    since, until = ts(query.since), ts(query.until)
    created: sa.ColumnElement[float] = m.created_at
    if not pg and _mostly(conn, since, until):
        # SQLite has no statistics to tell it that the range holds most of the table,
        # and walks the created_at index row by row: 3x slower than reading the table
        # (200,000 messages: 0.33 s against 1.0 s). ``+ 0`` keeps it off the index.
        created = m.created_at + 0
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


#: The share of the stored time span above which SQLite reads the table, not the index.
SCAN_SHARE = 0.2


def _mostly(conn: Connection, since: float, until: float) -> bool:
    """Whether ``[since, until)`` spans more than ``SCAN_SHARE`` of the messages' time
    span (two index lookups: the first and last creation times)."""
    first, last = conn.execute(
        sa.select(sa.func.min(messages.c.created_at), sa.func.max(messages.c.created_at))
    ).one()
    if first is None or last <= first:
        return True
    overlap: float = min(until, last) - max(since, first)
    return bool(overlap / (last - first) > SCAN_SHARE)


def _group(name: str, pg: bool) -> sa.ColumnElement[Any]:
    if name not in INSIGHT_GROUPS:
        raise ValueError(f"unknown group {name!r}")
    m = messages.c
    if name == "reason":
        return sa.func.split_part(m.reason, ":", 1) if pg else _sqlite_first_part(m.reason)
    if name == "error_code":
        failure = sa.or_(
            m.status == Status.FAILED.value, *(m.reason.startswith(k) for k in _FAILURE_KINDS)
        )
        last = sa.func.regexp_replace(m.reason, "^.*:", "") if pg else _sqlite_last_part(m.reason)
        return sa.case((failure, last), else_=sa.null())
    column: sa.ColumnElement[Any] = m[name]
    return column


def _sqlite_first_part(text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    colon = sa.func.instr(text, ":")
    return sa.case((colon > 0, sa.func.substr(text, 1, colon - 1)), else_=text)


def _sqlite_last_part(text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    # rtrim strips every trailing character that is not ':' (the set is the text
    # without its colons), leaving the prefix up to the last colon.
    prefix = sa.func.rtrim(text, sa.func.replace(text, ":", ""))
    return sa.func.substr(text, sa.func.length(prefix) + 1)
