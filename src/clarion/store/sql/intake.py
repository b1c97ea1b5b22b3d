"""Intake: recording events once, and claiming them for the orchestrator."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.model import Event
from clarion.store.records import Accepted
from clarion.store.schema import PENDING, PROCESSING, events
from clarion.store.sql.bulk import chunked, insert_new
from clarion.store.sql.claims import claim
from clarion.store.sql.convert import EVENT_COLUMNS, dt, event_of, event_row, ts


def accept_events(
    conn: Connection, batch: Sequence[Event], now: datetime, seq: Iterator[int]
) -> list[Accepted]:
    """Insert the batch in one statement; known ids answer with their original
    ``received_at``. A repeat within the batch is a duplicate of its first.
    ``seq`` numbers new events in intake order."""
    received = ts(now)
    first: dict[str, Event] = {}  # the first occurrence of each id, in order
    for event in batch:
        first.setdefault(event.id, event)
    rows = [event_row(event, received, next(seq)) for event in first.values()]
    # Which rows this transaction inserted: on PostgreSQL a concurrent insert of
    # the same id is then reported as the duplicate it is.
    inserted = insert_new(conn, events, rows, "id")
    known: dict[str, float] = {}
    for ids in chunked([event_id for event_id in first if event_id not in inserted]):
        query = sa.select(events.c.id, events.c.received_at).where(events.c.id.in_(ids))
        for event_id, received_at in conn.execute(query):
            known[event_id] = received_at
    answers: list[Accepted] = []
    for event in batch:
        if event.id in inserted:
            answers.append(Accepted(event.id, now, duplicate=False))
            inserted.discard(event.id)  # a repeat later in the batch is a duplicate
        else:
            answers.append(Accepted(event.id, dt(known.get(event.id, received)), duplicate=True))
    return answers


def claim_events(
    conn: Connection, limit: int, now: datetime, lease: timedelta, owner: str
) -> list[Event]:
    at = ts(now)
    order = (events.c.received_at, events.c.seq)
    expired = (
        sa.select(events.c.id)
        .where(events.c.state == PROCESSING, events.c.lease_until < at)
        .order_by(*order)
    )
    fresh = sa.select(events.c.id).where(events.c.state == PENDING).order_by(*order)
    values = {"state": PROCESSING, "lease_owner": owner, "lease_until": at + lease.total_seconds()}
    rows, _ = claim(
        conn, events.c.id, expired, fresh, limit, values, (*EVENT_COLUMNS, events.c.seq)
    )
    rows.sort(key=lambda row: (row.received_at, row.seq))
    return [event_of(row) for row in rows]
