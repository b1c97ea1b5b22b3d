"""Dispatch: claiming due messages under a lease, and recording the dispatcher's verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from clarion.core import reasons
from clarion.core.delivery import BadAddress
from clarion.core.model import Event, Profile, Status
from clarion.store.records import Claimed, Transition
from clarion.store.schema import events, lifecycle, messages
from clarion.store.sql.attempts import unconfirmed_of
from clarion.store.sql.bulk import append, chunked
from clarion.store.sql.claims import claim
from clarion.store.sql.convert import (
    EVENT_COLUMNS,
    MESSAGE_COLUMNS,
    event_of,
    lifecycle_row,
    message_of,
    opt_ts,
    ts,
)
from clarion.store.sql.dialects import dialect_of
from clarion.store.sql.profiles import profiles_by_id
from clarion.store.sql.receipts import apply_held, record_bad_addresses

_SCHEDULED = Status.SCHEDULED.value
_SENDING = Status.SENDING.value


def claim_due(
    conn: Connection, limit: int, now: datetime, lease: timedelta, owner: str
) -> list[Row[Any]]:
    """Claim due messages and record the claims; their rows (``MESSAGE_COLUMNS``), in
    claim order. Only the writes happen here: ``with_context`` reads the rest after."""
    at = ts(now)
    c = messages.c
    expired = sa.select(c.guid).where(c.status == _SENDING, c.lease_until < at).order_by(c.due_at)
    fresh = sa.select(c.guid).where(c.status == _SCHEDULED, c.due_at <= at).order_by(c.due_at)
    values = {
        "status": _SENDING,
        "lease_owner": owner,
        "lease_until": at + lease.total_seconds(),
        "attempts": c.attempts + 1,
        "updated_at": at,
    }
    rows, reclaimed = claim(conn, c.guid, expired, fresh, limit, values, MESSAGE_COLUMNS)
    if not rows:
        return []
    rows.sort(key=lambda row: (row.due_at is not None, row.due_at or 0.0, row.guid))
    entries = [
        lifecycle_row(
            row.guid,
            at,
            Status.SENDING,
            reasons.LEASE_EXPIRED if row.guid in reclaimed else None,
            {"attempt": row.attempts, "lease_owner": owner},
        )
        for row in rows
    ]
    append(conn, lifecycle, entries)
    return rows


def with_context(conn: Connection, rows: Sequence[Row[Any]], owner: str) -> list[Claimed]:
    """Claimed messages from their rows, each with its event and profile (with devices)
    for rendering."""
    claimed = [message_of(row) for row in rows]
    found: dict[str, Event] = {}
    for ids in chunked(sorted({m.event_id for m in claimed})):
        query = sa.select(*EVENT_COLUMNS).where(events.c.id.in_(ids))
        found.update((row.id, event_of(row)) for row in conn.execute(query))
    profiles = profiles_by_id(conn, {m.profile_id for m in claimed})
    # Only a message attempted before can have an unconfirmed attempt behind it.
    unconfirmed = unconfirmed_of(conn, (m.guid for m in claimed if m.attempts > 1), owner)
    return [
        Claimed(
            message=m,
            # The event row is gone only if something deleted it: render with an
            # empty payload rather than fail this message on every claim.
            event=found.get(m.event_id)
            or Event(id=m.event_id, type="", profile_id=m.profile_id, occurred_at=m.created_at),
            profile=profiles.get(m.profile_id) or Profile(id=m.profile_id),
            lease_owner=owner,
            unconfirmed=unconfirmed.get(m.guid),
        )
        for m in claimed
    ]


@dataclass(frozen=True, slots=True)
class PreparedTransitions:
    """Verdicts as rows, built before the write transaction (see ``apply_transitions``)."""

    rows: list[dict[str, object]]  # one per (message, lease owner): the first verdict
    entries: list[dict[str, object]]  # the lifecycle entry of each row, in the same order
    at: float = 0.0
    # Bad addresses a verdict reported, by (guid, lease owner); recorded if it applies.
    bad: dict[tuple[str, str], BadAddress] = field(default_factory=dict)
    refs: bool = False  # whether any verdict stores a provider reference


def prepare_transitions(transitions: Sequence[Transition], now: datetime) -> PreparedTransitions:
    at = ts(now)
    # A claim takes one verdict: keep the first per (message, owner).
    batch = list({(t.guid, t.lease_owner): t for t in reversed(transitions)}.values())[::-1]
    rows: list[dict[str, object]] = [
        {
            "guid": t.guid,
            "lease_owner": t.lease_owner,
            "status": t.status.value,
            "reason": t.reason,
            "due_at": opt_ts(t.retry_at) if t.status is Status.SCHEDULED else None,
            "provider": t.provider,
            "provider_ref": t.provider_ref,
            "attempts": t.attempts,
            "updated_at": at,
        }
        for t in batch
    ]
    entries = [lifecycle_row(t.guid, at, t.status, t.reason, _detail(t)) for t in batch]
    bad = {(t.guid, t.lease_owner): t.bad_address for t in batch if t.bad_address is not None}
    refs = any(t.provider_ref is not None for t in batch)
    return PreparedTransitions(rows, entries, at, bad, refs)


def apply_transitions(conn: Connection, prepared: PreparedTransitions) -> int:
    rows = prepared.rows
    applied = dialect_of(conn).end_leases(conn, rows)
    entries = [
        entry
        for row, entry in zip(rows, prepared.entries, strict=True)
        if (row["guid"], row["lease_owner"]) in applied
    ]
    append(conn, lifecycle, entries)
    if prepared.bad:
        _record_bad(conn, prepared, applied)
    if prepared.refs:
        # Reports that overtook this record of the send; batches that stored no
        # reference (sink, webhook, in-app) skip the lookup.
        refs = [
            str(row["provider_ref"])
            for row in rows
            if row["provider_ref"] is not None and (row["guid"], row["lease_owner"]) in applied
        ]
        apply_held(conn, refs, prepared.at)
    return len(entries)


def _record_bad(
    conn: Connection, prepared: PreparedTransitions, applied: set[tuple[str, str]]
) -> None:
    """Record the bad addresses of applied verdicts against their messages' profiles."""
    keys = [key for key in prepared.bad if key in applied]
    if not keys:
        return
    query = sa.select(messages.c.guid, messages.c.profile_id).where(
        messages.c.guid.in_([guid for guid, _ in keys])
    )
    owners: dict[str, str] = {guid: profile_id for guid, profile_id in conn.execute(query)}
    found = [(owners[key[0]], prepared.bad[key]) for key in keys if key[0] in owners]
    record_bad_addresses(conn, found, prepared.at)


def _detail(transition: Transition) -> dict[str, object]:
    detail: dict[str, object] = {}
    if transition.provider is not None:
        detail["provider"] = transition.provider
    if transition.provider_ref is not None:
        detail["provider_ref"] = transition.provider_ref
    if transition.retry_at is not None:
        detail["retry_at"] = transition.retry_at.isoformat()
    detail.update(transition.detail)
    return detail
