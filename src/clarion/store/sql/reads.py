"""Reads for the API: one message, its timeline, a profile's messages, status counts,
an event and the messages it caused."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.store.records import EventRecord, LifecycleEntry, MessageQuery, MessageRecord
from clarion.store.schema import events, lifecycle, messages, profiles
from clarion.store.sql.convert import (
    LIFECYCLE_COLUMNS,
    MESSAGE_COLUMNS,
    dt,
    event_of,
    lifecycle_of,
    message_of,
    opt_dt,
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


def event_record(conn: Connection, event_id: str) -> EventRecord | None:
    """An event with its state, failed attempts and last error."""
    row = conn.execute(sa.select(events).where(events.c.id == event_id)).first()
    if row is None:
        return None
    return EventRecord(
        event_of(row),
        row.state,
        dt(row.received_at),
        opt_dt(row.processed_at),
        row.attempts,
        row.last_error,
    )


def messages_of_event(conn: Connection, record: EventRecord) -> list[MessageRecord]:
    """The messages an event caused: of its profile, and of its account's profiles
    (an account audience). Found through the profile index, as messages have no
    index on their event."""
    event = record.event
    ids = {event.profile_id}
    if event.account_id is not None:
        query = sa.select(profiles.c.id).where(profiles.c.account_id == event.account_id)
        ids.update(conn.execute(query).scalars())
    c = messages.c
    query = (
        sa.select(*MESSAGE_COLUMNS)
        .where(c.profile_id.in_(sorted(ids)), c.event_id == event.id)
        .order_by(c.profile_id, c.message, c.step)
    )
    return [message_of(row) for row in conn.execute(query)]


def profile_known(conn: Connection, profile_id: str) -> bool:
    """Whether the profile exists or has any message (an event may name a profile
    that was never stored; its messages are still recorded)."""
    for table, column in ((profiles, profiles.c.id), (messages, messages.c.profile_id)):
        if conn.execute(
            sa.select(sa.literal(1)).select_from(table).where(column == profile_id).limit(1)
        ).first():
            return True
    return False
