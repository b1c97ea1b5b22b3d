"""In-app writes: feedback (impressions, CTAs), dismissals and their end, read state.

Feedback that carries a ``FeedbackReceipt`` takes effect only if its receipt is
new: the receipt is inserted (if absent) in the same transaction as the effect,
so a replayed object, or two posts of it at once, act once."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import ReturningInsert

from clarion.core import reasons
from clarion.core.model import Channel, Status
from clarion.store.records import FALLBACK, FeedbackReceipt, MessageRecord, Suppression
from clarion.store.schema import (
    LIVE_INAPP_CHANNEL,
    LIVE_INAPP_STATUSES,
    feedback_receipts,
    inapp_state,
    lifecycle,
    messages,
    suppressions,
)
from clarion.store.sql.convert import lifecycle_row, ts
from clarion.store.sql.dialects import Insert, SqlDialect, dialect_of


def _upserts(dialect: SqlDialect) -> tuple[Insert, Insert]:
    """The in-app state upserts of an impression and of a CTA, in one dialect's INSERT."""
    c = inapp_state.c
    now: sa.BindParameter[float] = sa.bindparam("now")
    key: dict[str, sa.BindParameter[str]] = {
        "guid": sa.bindparam("guid"),
        "profile_id": sa.bindparam("profile_id"),
    }
    impression = (
        dialect.insert(inapp_state)
        .values(**key, impressions=1, first_seen_at=now, last_seen_at=now)
        .on_conflict_do_update(
            index_elements=[c.guid],
            # A row made by a read, archive or CTA before any impression has no
            # first_seen_at yet: the first impression sets it (caps count from it).
            set_={
                "impressions": c.impressions + 1,
                "first_seen_at": sa.func.coalesce(c.first_seen_at, now),
                "last_seen_at": now,
            },
        )
    )
    action: sa.BindParameter[str] = sa.bindparam("action")
    cta = (
        dialect.insert(inapp_state)
        .values(**key, impressions=0, acted_at=now, action=action)
        .on_conflict_do_update(index_elements=[c.guid], set_={"acted_at": now, "action": action})
    )
    return impression, cta


def _claim(dialect: SqlDialect) -> ReturningInsert[Any]:
    """Insert a feedback receipt unless it is there already (then: no row, no error)."""
    return (
        dialect.insert(feedback_receipts)
        .values(
            key=sa.bindparam("key"),
            guid=sa.bindparam("guid"),
            at=sa.bindparam("now"),
            expires_at=sa.bindparam("expires_at"),
        )
        .on_conflict_do_nothing(index_elements=[feedback_receipts.c.key])
        # A row back means it was inserted (psycopg reports no rowcount for this INSERT).
        .returning(feedback_receipts.c.key)
    )


# Built once per dialect, like ``inapp._LIVE``: feedback writes run under SQLite's one
# writer at a time, so building statements there would cost every writer.
_UPSERTS = cache(_upserts)
_CLAIMS = cache(_claim)
_DELIVERED = (
    sa.update(messages)
    .where(messages.c.guid == sa.bindparam("message_guid"), messages.c.status == Status.SENT.value)
    .values(status=Status.DELIVERED.value, updated_at=sa.bindparam("now"))
)
_LIFECYCLE = sa.insert(lifecycle)


def take_receipt(conn: Connection, guid: str, receipt: FeedbackReceipt | None, now: float) -> bool:
    """Take the receipt of feedback about message ``guid``; False when it was taken
    before (a replay). With no receipt there is nothing to take: True.

    Two transactions inserting the same key at once: PostgreSQL makes the second
    wait for the first and then finds the row; SQLite has one writer at a time."""
    if receipt is None:
        return True
    values = {"key": receipt.key, "guid": guid, "now": now, "expires_at": ts(receipt.expires_at)}
    return conn.execute(_CLAIMS(dialect_of(conn)), values).first() is not None


def record_impression(
    conn: Connection,
    message: MessageRecord,
    now: float,
    detail: dict[str, object],
    receipt: FeedbackReceipt | None = None,
) -> bool:
    """Count an impression; False (and nothing written) when ``receipt`` was taken."""
    if not take_receipt(conn, message.guid, receipt, now):
        return False
    upsert, _ = _UPSERTS(dialect_of(conn))
    conn.execute(upsert, {"guid": message.guid, "profile_id": message.profile_id, "now": now})
    # The first impression on any device is the delivery of an in-app message.
    first = conn.execute(_DELIVERED, {"message_guid": message.guid, "now": now}).rowcount
    status = Status.DELIVERED if first else message.status
    row = lifecycle_row(message.guid, now, status, "impression", detail)
    conn.execute(_LIFECYCLE, [row])
    return True


def record_action(
    conn: Connection,
    message: MessageRecord,
    action: str,
    now: float,
    detail: dict[str, object],
    receipt: FeedbackReceipt | None = None,
    suppression: Suppression | None = None,
) -> list[str] | None:
    """Record a CTA click and the suppression it causes (a dismiss).

    Returns None (and writes nothing) when ``receipt`` was taken, else the guids
    the suppression cancelled."""
    if not take_receipt(conn, message.guid, receipt, now):
        return None
    _, upsert = _UPSERTS(dialect_of(conn))
    values = {"guid": message.guid, "profile_id": message.profile_id, "now": now, "action": action}
    conn.execute(upsert, values)
    row = lifecycle_row(message.guid, now, message.status, f"cta:{action}", detail)
    conn.execute(_LIFECYCLE, [row])
    if suppression is None:
        return []
    return suppress(conn, message.profile_id, suppression, now)


def record_fallback(
    conn: Connection,
    message: MessageRecord,
    action: str,
    fallback: str,
    now: float,
    detail: dict[str, object],
) -> None:
    """A ``BACKEND`` CTA whose call failed: no CTA is taken (``acted_at`` stays empty),
    the alert is shown as its fallback (redirecting to ``fallback``) from now on."""
    marker = f"{FALLBACK}{fallback}"
    conn.execute(
        dialect_of(conn)
        .insert(inapp_state)
        .values(guid=message.guid, profile_id=message.profile_id, impressions=0, action=marker)
        .on_conflict_do_update(index_elements=[inapp_state.c.guid], set_={"action": marker})
    )
    row = lifecycle_row(message.guid, now, message.status, f"cta:{action}", detail)
    conn.execute(_LIFECYCLE, [row])


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
        dialect_of(conn)
        .insert(suppressions)
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


def upkeep_due(conn: Connection, now: float) -> bool:
    """Whether a suppression has ended or a receipt expired: read first, so an idle
    sweep does not take SQLite's one writer every second."""
    ended = sa.select(suppressions.c.until).where(suppressions.c.until <= now).limit(1)
    expired = (
        sa.select(feedback_receipts.c.expires_at)
        .where(feedback_receipts.c.expires_at <= now)
        .limit(1)
    )
    return any(conn.execute(query).first() is not None for query in (ended, expired))


def end_suppressions(conn: Connection, now: float, limit: int) -> int:
    """End the suppressions whose time has passed (oldest first, at most ``limit``): each
    live in-app message they hid gets an ``unsuppressed`` lifecycle entry dated when
    the suppression ended, and the suppression is deleted. Returns how many ended.

    A fetch stops hiding the alert at ``until`` by itself (it compares with the
    clock); this only writes down when. A suppression replaced meanwhile (a new
    dismissal) or ended by another worker is left alone."""
    s, m = suppressions.c, messages.c
    due = conn.execute(
        sa.select(s.profile_id, s.message, s.until, s.reason)
        .where(s.until <= now)
        .order_by(s.until)
        .limit(limit)
    ).all()
    rows: list[dict[str, object]] = []
    for profile_id, message, until, reason in due:
        mine = (s.profile_id == profile_id, s.message == message, s.until == until)
        if not conn.execute(sa.delete(suppressions).where(*mine)).rowcount:
            continue
        live = conn.execute(
            sa.select(m.guid, m.status).where(
                m.profile_id == profile_id,
                m.message == message,
                m.channel == LIVE_INAPP_CHANNEL,
                m.status.in_(LIVE_INAPP_STATUSES),
                sa.or_(m.expires_at.is_(None), m.expires_at > until),
            )
        )
        detail = {"suppressedBy": reason}
        rows += [
            lifecycle_row(guid, until, Status(status), reasons.UNSUPPRESSED, detail)
            for guid, status in live
        ]
    if rows:
        conn.execute(_LIFECYCLE, rows)
    return len(due)


def purge_feedback_receipts(conn: Connection, now: float, limit: int) -> int:
    """Forget the receipts of feedback objects that have expired (they are refused
    as expired before any receipt is looked at); returns how many."""
    r = feedback_receipts.c
    expired = sa.select(r.key).where(r.expires_at <= now).limit(limit).scalar_subquery()
    return int(conn.execute(sa.delete(feedback_receipts).where(r.key.in_(expired))).rowcount)


def mark(conn: Connection, profile_id: str, guid: str, column: str, now: float) -> bool:
    """Set ``read_at`` or ``archived_at`` of a profile's in-app message; False if not theirs."""
    return mark_many(conn, profile_id, [guid], column, now) == [guid]


def mark_many(
    conn: Connection, profile_id: str, guids: Sequence[str], column: str, now: float
) -> list[str]:
    """Set ``read_at`` or ``archived_at`` of those of ``guids`` that are the profile's
    in-app messages; returns them."""
    owned = _owned(conn, profile_id, guids)
    for guid in owned:
        conn.execute(
            dialect_of(conn)
            .insert(inapp_state)
            .values(guid=guid, profile_id=profile_id, impressions=0, **{column: now})
            .on_conflict_do_update(index_elements=[inapp_state.c.guid], set_={column: now})
        )
    return owned


def unmark(conn: Connection, profile_id: str, guid: str, column: str) -> bool:
    """Clear ``read_at`` or ``archived_at`` of a profile's in-app message (unarchive);
    False if not theirs."""
    if not _owned(conn, profile_id, [guid]):
        return False
    conn.execute(sa.update(inapp_state).where(inapp_state.c.guid == guid).values({column: None}))
    return True


def _owned(conn: Connection, profile_id: str, guids: Sequence[str]) -> list[str]:
    """Those of ``guids`` that are in-app messages of the profile, in their order."""
    if not guids:
        return []
    m = messages.c
    found = set(
        conn.execute(
            sa.select(m.guid).where(
                m.guid.in_(list(guids)),
                m.profile_id == profile_id,
                m.channel == Channel.INAPP.value,
            )
        ).scalars()
    )
    return [guid for guid in dict.fromkeys(guids) if guid in found]
