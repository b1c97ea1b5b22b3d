"""In-app reads and writes: live alerts of a profile, feedback, dismissals, read state."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core import reasons
from clarion.core.model import Channel, Event, Status
from clarion.store.records import InAppState, LiveInApp, MessageRecord, Suppression
from clarion.store.schema import events, inapp_state, lifecycle, messages, suppressions
from clarion.store.sql.convert import MESSAGE_COLUMNS, dt, lifecycle_row, message_of, opt_dt, ts
from clarion.store.sql.engine import insert
from clarion.store.sql.orchestration import LIVE_STATUSES

_STATE = (
    inapp_state.c.impressions,
    inapp_state.c.last_seen_at,
    inapp_state.c.acted_at,
    inapp_state.c.action,
    inapp_state.c.read_at,
    inapp_state.c.archived_at,
)


def live_inapp(conn: Connection, profile_id: str, now: float, limit: int) -> list[LiveInApp]:
    """The profile's in-app messages that are live and unexpired, newest first."""
    m = messages.c
    e = events.c
    query = (
        sa.select(*MESSAGE_COLUMNS, *_STATE, e.type, e.occurred_at, e.payload, e.account_id)
        .select_from(
            messages.join(events, e.id == m.event_id).outerjoin(
                inapp_state, inapp_state.c.guid == m.guid
            )
        )
        .where(
            m.profile_id == profile_id,
            m.channel == Channel.INAPP.value,
            m.status.in_(LIVE_STATUSES),
            sa.or_(m.expires_at.is_(None), m.expires_at > now),
        )
        .order_by(m.created_at.desc(), m.guid.desc())
        .limit(limit)
    )
    width = len(MESSAGE_COLUMNS)
    found = []
    for row in conn.execute(query):
        impressions, seen, acted, action, read, archived, etype, occurred, payload, account = row[
            width:
        ]
        state = InAppState(
            impressions or 0, opt_dt(seen), opt_dt(acted), action, opt_dt(read), opt_dt(archived)
        )
        message = message_of(row[:width])  # positional reader: the message columns only
        event = Event(message.event_id, etype, profile_id, dt(occurred), payload, account)
        found.append(LiveInApp(message, state, event))
    return found


def suppressions_of(
    conn: Connection, profile_ids: Iterable[str], now: float
) -> dict[str, dict[str, Suppression]]:
    """Active dismissals by profile, then by message name."""
    s = suppressions.c
    query = sa.select(s.profile_id, s.message, s.until, s.reason, s.all_channels).where(
        s.profile_id.in_(list(profile_ids)), s.until > now
    )
    found: dict[str, dict[str, Suppression]] = {}
    for profile_id, message, until, reason, all_channels in conn.execute(query):
        found.setdefault(profile_id, {})[message] = Suppression(
            message, dt(until), reason, bool(all_channels)
        )
    return found


def record_impression(
    conn: Connection, message: MessageRecord, now: float, detail: dict[str, object]
) -> None:
    c = inapp_state.c
    statement = (
        insert(conn, inapp_state)
        .values(
            guid=message.guid,
            profile_id=message.profile_id,
            impressions=1,
            first_seen_at=now,
            last_seen_at=now,
        )
        .on_conflict_do_update(
            index_elements=[c.guid],
            set_={"impressions": c.impressions + 1, "last_seen_at": now},
        )
    )
    conn.execute(statement)
    # The first impression on any device is the delivery of an in-app message.
    first = conn.execute(
        sa.update(messages)
        .where(messages.c.guid == message.guid, messages.c.status == Status.SENT.value)
        .values(status=Status.DELIVERED.value, updated_at=now)
    ).rowcount
    status = Status.DELIVERED if first else message.status
    row = lifecycle_row(message.guid, now, status, "impression", detail)
    conn.execute(sa.insert(lifecycle), [row])


def record_action(
    conn: Connection, message: MessageRecord, action: str, now: float, detail: dict[str, object]
) -> None:
    statement = (
        insert(conn, inapp_state)
        .values(
            guid=message.guid,
            profile_id=message.profile_id,
            impressions=0,
            acted_at=now,
            action=action,
        )
        .on_conflict_do_update(
            index_elements=[inapp_state.c.guid], set_={"acted_at": now, "action": action}
        )
    )
    conn.execute(statement)
    row = lifecycle_row(message.guid, now, message.status, f"cta:{action}", detail)
    conn.execute(sa.insert(lifecycle), [row])


def suppress(conn: Connection, profile_id: str, rule: Suppression, now: float) -> list[str]:
    """Store a dismissal; with ``all_channels`` also cancel the message's pending sends.

    Returns the guids it cancelled."""
    s = suppressions.c
    values = {
        "until": ts(rule.until),
        "reason": rule.reason,
        "all_channels": rule.all_channels,
    }
    conn.execute(
        insert(conn, suppressions)
        .values(profile_id=profile_id, message=rule.message, **values)
        .on_conflict_do_update(index_elements=[s.profile_id, s.message], set_=values)
    )
    if not rule.all_channels:
        return []
    m = messages.c
    reason = reasons.suppressed(rule.reason)
    cancelled = [
        guid
        for (guid,) in conn.execute(
            sa.update(messages)
            .where(
                m.profile_id == profile_id,
                m.message == rule.message,
                m.status == Status.SCHEDULED.value,
            )
            .values(status=Status.CANCELLED.value, reason=reason, updated_at=now)
            .returning(m.guid)
        )
    ]
    if cancelled:
        rows = [lifecycle_row(g, now, Status.CANCELLED, reason, {}) for g in cancelled]
        conn.execute(sa.insert(lifecycle), rows)
    return cancelled


def mark(conn: Connection, profile_id: str, guid: str, column: str, now: float) -> bool:
    """Set ``read_at`` or ``archived_at`` of a profile's in-app message; False if not theirs."""
    m = messages.c
    owned = conn.execute(
        sa.select(m.guid).where(
            m.guid == guid, m.profile_id == profile_id, m.channel == Channel.INAPP.value
        )
    ).first()
    if owned is None:
        return False
    conn.execute(
        insert(conn, inapp_state)
        .values(guid=guid, profile_id=profile_id, impressions=0, **{column: now})
        .on_conflict_do_update(index_elements=[inapp_state.c.guid], set_={column: now})
    )
    return True
