"""Intake: recording events once, and claiming them for the orchestrator."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.model import Event
from clarion.core.partitions import partition_key, partition_of
from clarion.store.records import Accepted
from clarion.store.schema import PENDING, PROCESSING, events, profiles
from clarion.store.sql import partitions
from clarion.store.sql.bulk import chunked, insert_new
from clarion.store.sql.claims import claim
from clarion.store.sql.convert import EVENT_COLUMNS, dt, event_of, event_row, ts


def accept_events(
    conn: Connection,
    batch: Sequence[Event],
    now: datetime,
    seq: Iterator[int],
    accounts: Mapping[str, str],
) -> list[Accepted]:
    """Insert the batch in one statement; known ids answer with their original
    ``received_at``. A repeat within the batch is a duplicate of its first.
    ``seq`` numbers new events in intake order; ``accounts`` are the stored
    accounts of the batch's profiles (``accounts_of``), which pick the partition of
    an event that names none."""
    received = ts(now)
    first: dict[str, Event] = {}  # the first occurrence of each id, in order
    for event in batch:
        first.setdefault(event.id, event)
    rows = [
        event_row(event, received, next(seq), partition_of_event(event, accounts))
        for event in first.values()
    ]
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


def partition_of_event(event: Event, accounts: Mapping[str, str]) -> int:
    """The event's partition: by its own account, else its profile's, else its profile.

    An event that names an account decides for that account's profiles (account
    audiences), so they all share its partition; a profile's own events take its
    stored account, so they land in the same one.
    """
    account = event.account_id or accounts.get(event.profile_id)
    return partition_of(partition_key(event.profile_id, account))


def accounts_of(conn: Connection, batch: Sequence[Event]) -> dict[str, str]:
    """The stored account of each profile of the batch's events that name none."""
    ids = sorted({e.profile_id for e in batch if not e.account_id})
    found: dict[str, str] = {}
    for chunk in chunked(ids):
        query = sa.select(profiles.c.id, profiles.c.account_id).where(
            profiles.c.id.in_(chunk), profiles.c.account_id.is_not(None)
        )
        found.update((row.id, row.account_id) for row in conn.execute(query))
    return found


def claim_events(
    conn: Connection, limit: int, now: datetime, lease: timedelta, owner: str
) -> list[Event]:
    """Claim, in intake order, events of the partitions ``owner`` holds: first
    those whose claim lapsed or was another worker's (the partition moved here
    from it), then new ones."""
    at = ts(now)
    order = (events.c.received_at, events.c.seq)
    mine = events.c.partition.in_(partitions.held(owner, at))
    lapsed = sa.or_(events.c.lease_until < at, events.c.lease_owner != owner)
    expired = (
        sa.select(events.c.id).where(events.c.state == PROCESSING, mine, lapsed).order_by(*order)
    )
    fresh = sa.select(events.c.id).where(events.c.state == PENDING, mine).order_by(*order)
    values = {"state": PROCESSING, "lease_owner": owner, "lease_until": at + lease.total_seconds()}
    rows, _ = claim(
        conn, events.c.id, expired, fresh, limit, values, (*EVENT_COLUMNS, events.c.seq)
    )
    rows.sort(key=lambda row: (row.received_at, row.seq))
    return [event_of(row) for row in rows]
