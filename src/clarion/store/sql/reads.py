"""Reads for the API: one message, its timeline, a profile's messages, status counts."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.store.records import LifecycleEntry, MessageQuery, MessageRecord
from clarion.store.schema import lifecycle, messages
from clarion.store.sql.convert import (
    LIFECYCLE_COLUMNS,
    MESSAGE_COLUMNS,
    lifecycle_of,
    message_of,
    ts,
)


def timeline(conn: Connection, guid: str) -> list[LifecycleEntry]:
    query = (
        sa.select(*LIFECYCLE_COLUMNS)
        .where(lifecycle.c.guid == guid)
        .order_by(lifecycle.c.at, lifecycle.c.id)
    )
    return [lifecycle_of(row) for row in conn.execute(query)]


def list_messages(conn: Connection, query: MessageQuery) -> list[MessageRecord]:
    """Newest first; ``since`` is inclusive and ``until`` exclusive."""
    c = messages.c
    select = sa.select(*MESSAGE_COLUMNS).where(c.profile_id == query.profile_id)
    if query.message is not None:
        select = select.where(c.message == query.message)
    if query.channel is not None:
        select = select.where(c.channel == query.channel.value)
    if query.status is not None:
        select = select.where(c.status == query.status.value)
    if query.since is not None:
        select = select.where(c.created_at >= ts(query.since))
    if query.until is not None:
        select = select.where(c.created_at < ts(query.until))
    if query.before is not None:
        created, guid = ts(query.before[0]), query.before[1]
        # (created_at, guid) < cursor, spelled so the first term can use the index.
        select = select.where(
            c.created_at <= created, sa.or_(c.created_at < created, c.guid < guid)
        )
    select = select.order_by(c.created_at.desc(), c.guid.desc()).limit(query.limit)
    return [message_of(row) for row in conn.execute(select)]


def counts_by_status(conn: Connection) -> dict[str, int]:
    query = sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
    return {status: count for status, count in conn.execute(query)}
