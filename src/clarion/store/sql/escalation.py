"""Escalation ladders: the rungs still waiting (timed out or settled), and moving on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.escalation import FAILED, STOPPED, LadderMove, OpenRung, ladder_entries
from clarion.core.model import Channel, Event, Status
from clarion.store.records import LadderRung
from clarion.store.schema import events, inapp_state, lifecycle, messages
from clarion.store.sql import partitions
from clarion.store.sql.bulk import append, chunked, insert_new
from clarion.store.sql.convert import (
    EVENT_COLUMNS,
    MESSAGE_COLUMNS,
    decision_detail,
    decision_row,
    dt,
    event_of,
    lifecycle_row,
    message_of,
    opt_dt,
    ts,
)

#: Open rungs that settled (delivered, failed, stopped): the ladder moves at once.
_SETTLED = sorted(s.value for s in (Status.DELIVERED, *FAILED, *STOPPED))
#: Open rungs still on their way: the ladder moves when ``confirm_by`` passes.
_WAITING = sorted(s.value for s in (Status.SCHEDULED, Status.SENDING, Status.SENT))

_COLUMNS = (
    messages.c.guid,
    messages.c.profile_id,
    messages.c.message,
    messages.c.channel,
    messages.c.rung,
    messages.c.status,
    messages.c.confirm_by,
    messages.c.expires_at,
    messages.c.event_id,
    messages.c.ab_test_id,
    messages.c.ab_test_cell,
    # An in-app rung is confirmed by its first impression (status delivered), or a
    # CTA click that a device reported without one.
    inapp_state.c.acted_at,
)


def open_rungs(conn: Connection, now: datetime, limit: int, owner: str) -> list[OpenRung]:
    """Rungs whose ladder must move now: settled ones, then timed-out ones, oldest first;
    only those of ladders whose event is in a partition ``owner`` holds, since a
    move decides against the profile's history (caps) like an event does."""
    rows: list[Any] = []
    mine = messages.c.event_id.in_(_events_in(partitions.held(owner, ts(now))))
    for query in open_queries(now):
        rows += conn.execute(
            query.where(mine).order_by(messages.c.confirm_by).limit(limit - len(rows))
        )
        if len(rows) >= limit:
            break
    found: dict[str, Event] = {}
    for ids in chunked(sorted({row.event_id for row in rows})):
        query = sa.select(*EVENT_COLUMNS).where(events.c.id.in_(ids))
        found.update((row.id, event_of(row)) for row in conn.execute(query))
    # Only rungs whose event is stored were read (its partition says who moves the
    # ladder); one deleted between the two reads moves with an empty payload.
    return [
        _rung_of(row, found.get(row.event_id) or Event(row.event_id, "", row.profile_id, dt(0)))
        for row in rows
    ]


def open_queries(now: datetime) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The settled open rungs, and the ones past ``confirm_by``; both read only the
    partial index of open rungs (``ix_messages_ladder_open``)."""
    m = messages.c
    base = sa.select(*_COLUMNS).outerjoin_from(
        messages, inapp_state, inapp_state.c.guid == messages.c.guid
    )
    settled = base.where(m.status.in_(_SETTLED), m.confirm_by.is_not(None))
    waiting = base.where(m.status.in_(_WAITING), m.confirm_by <= ts(now))
    return settled, waiting


def _rung_of(row: Any, event: Event) -> OpenRung:
    return OpenRung(
        guid=row.guid,
        event=event,
        profile_id=row.profile_id,
        message=row.message,
        channel=Channel(row.channel),
        rung=row.rung or 0,
        status=Status(row.status),
        confirm_by=dt(row.confirm_by),
        expires_at=opt_dt(row.expires_at),
        acted=row.acted_at is not None,
        ab_test_id=row.ab_test_id,
        ab_test_cell=row.ab_test_cell,
    )


def apply_moves(
    conn: Connection, moves: Sequence[LadderMove], now: datetime, owner: str
) -> list[str]:
    """Apply each move whose rung is still open (another worker, or the goal event,
    may have settled it since it was read) and whose partition ``owner`` still owns;
    returns the guids of the rungs moved."""
    at = ts(now)
    applied: list[str] = []
    entries: list[dict[str, object]] = []
    owned = partitions.fence(conn, owner)
    if not owned:
        return applied
    mine = _events_in(owned)
    for move in moves:
        status = _close(conn, move, at, mine)
        if status is None:
            continue
        applied.append(move.guid)
        rows = [decision_row(d, at) for d in move.decisions]
        created = insert_new(conn, messages, rows, "guid") if rows else set()
        more = [
            lifecycle_row(guid, at, status if guid == move.guid else s, reason, detail)
            for guid, s, reason, detail in ladder_entries(move)
        ]
        entries += more[:1]
        entries += [
            lifecycle_row(d.guid, at, d.status, d.reason, decision_detail(d))
            for d in move.decisions
            if d.guid in created
        ]
        entries += more[1:]
    append(conn, lifecycle, entries)
    return applied


def _events_in(owned: sa.Select[Any] | Sequence[int]) -> sa.Select[Any]:
    """The ids of the events in the partitions ``owned``."""
    return sa.select(events.c.id).where(events.c.partition.in_(owned))


def _close(conn: Connection, move: LadderMove, at: float, mine: sa.Select[Any]) -> Status | None:
    """Take the rung off its ladder; its status after, or None if it was no longer open."""
    m = messages.c
    values: dict[str, object] = {"confirm_by": None, "updated_at": at}
    if move.cancel:
        # Timed out before it went out: cancel it, unless a dispatcher took it meanwhile.
        scheduled = m.status == Status.SCHEDULED.value
        values["status"] = sa.case((scheduled, Status.CANCELLED.value), else_=m.status)
        values["reason"] = sa.case((scheduled, move.reason), else_=m.reason)
    stmt = (
        sa.update(messages)
        .where(m.guid == move.guid, m.confirm_by.is_not(None), m.event_id.in_(mine))
        .values(values)
        .returning(m.status)
    )
    status = conn.execute(stmt).scalar()
    return None if status is None else Status(status)


def ladder_of(conn: Connection, guid: str) -> list[LadderRung]:
    """Every rung created so far of the ladder that message ``guid`` is on, in order."""
    m = messages.c
    ladder = sa.select(m.ladder).where(m.guid == guid).scalar_subquery()
    query = (
        sa.select(*MESSAGE_COLUMNS, m.rung, m.confirm_by)
        .where(m.ladder == ladder)
        .order_by(m.rung, m.created_at)
    )
    width = len(MESSAGE_COLUMNS)
    return [
        LadderRung(message_of(row[:width]), row.rung, opt_dt(row.confirm_by))
        for row in conn.execute(query)
    ]
