"""What providers tell us after sending: delivery reports and bad addresses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.delivery import BadAddress, DeliveryReport
from clarion.core.model import ADDRESS_KINDS, AddressLimit, JSONObject, Status
from clarion.store.records import ReportApplied
from clarion.store.schema import bad_addresses, lifecycle, messages
from clarion.store.sql.bulk import append, chunked
from clarion.store.sql.convert import dt, lifecycle_row
from clarion.store.sql.dialects import dialect_of
from clarion.store.sql.early_reports import hold, lock_refs, take_held

#: Statuses a report may still move a message out of: only "accepted by the provider".
_OPEN = Status.SENT.value


def record_bad_addresses(
    conn: Connection, found: Sequence[tuple[str, BadAddress]], at: float
) -> None:
    """Record (profile id, bad address) pairs; a known one takes the newer code, time
    and expiry (a temporary limit recorded again lasts from the new report)."""
    if not found:
        return
    rows = [
        {
            "profile_id": pid,
            "kind": b.kind,
            "value": b.value,
            "code": b.code,
            "at": at,
            "until": at + b.lasts.total_seconds() if b.lasts is not None else None,
        }
        for pid, b in found
    ]
    stmt = dialect_of(conn).insert(bad_addresses)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["profile_id", "kind", "value"],
            set_={"code": stmt.excluded.code, "at": stmt.excluded.at, "until": stmt.excluded.until},
        ),
        rows,
    )


def address_limits_of(
    conn: Connection, profile_ids: Iterable[str]
) -> dict[str, tuple[AddressLimit, ...]]:
    """What providers said each profile's addresses cannot receive, by profile id.

    Expired limits are loaded too (few, and replaced when recorded again): whether a
    limit still holds is the core's call at the time of each decision."""
    b = bad_addresses.c
    found: dict[str, list[AddressLimit]] = {}
    for chunk in chunked(sorted(set(profile_ids))):
        query = (
            sa.select(b.profile_id, b.kind, b.value, b.until)
            .where(b.profile_id.in_(chunk))
            .order_by(b.profile_id, b.kind, b.value)
        )
        for profile_id, kind, value, until in conn.execute(query):
            channels = ADDRESS_KINDS.get(kind)
            if channels is None:
                continue  # a kind this version does not know limits nothing
            limit = AddressLimit(value, channels, dt(until) if until is not None else None)
            found.setdefault(profile_id, []).append(limit)
    return {profile_id: tuple(limits) for profile_id, limits in found.items()}


def _already_reported(conn: Connection, guid: str, reason: str | None) -> bool:
    query = sa.select(lifecycle.c.id).where(lifecycle.c.guid == guid, lifecycle.c.reason == reason)
    return conn.execute(query.limit(1)).first() is not None


def _find(conn: Connection, provider_ref: str) -> sa.Row[Any, Any, Any] | None:
    m = messages.c
    # FOR UPDATE (PostgreSQL; SQLite already holds the write lock) serializes
    # concurrent reports on one message, so a repeat is seen as one.
    query = (
        sa.select(m.guid, m.status, m.profile_id)
        .where(m.provider_ref == provider_ref)
        .limit(1)
        .with_for_update()
    )
    return conn.execute(query).first()


def apply_delivery_report(
    conn: Connection, report: DeliveryReport, at: float
) -> ReportApplied | None:
    """Apply ``report`` to the message it names; None when no message has its
    reference yet, in which case the report is held and applied when the
    reference is stored (``early_reports``, ``apply_held``).

    Only a sent message moves (to delivered or failed); a report that it is still
    on its way is logged once per provider status. Anything else (a repeat, a late
    "sent" after "delivered") changes nothing, so reports may arrive in any order
    and any number of times.
    """
    row = _find(conn, report.provider_ref)
    if row is None and lock_refs(conn, [report.provider_ref]):
        # Having waited for a transaction storing this reference, look again: it
        # has either committed (found now) or will see the held report.
        row = _find(conn, report.provider_ref)
    if row is None:
        hold(conn, report, at)
        return None
    return _apply(conn, row, report, at, dict(report.detail))


def apply_held(conn: Connection, refs: Sequence[str], at: float) -> int:
    """Apply the reports held for ``refs``, whose messages have just had them
    stored in this transaction; how many changed something.

    Applied at ``at`` (the time the references were stored), in the order they
    arrived, with the time each arrived in the lifecycle detail.
    """
    if not refs:
        return 0
    lock_refs(conn, refs)
    applied = 0
    for held in take_held(conn, refs):
        report = held.report
        row = _find(conn, report.provider_ref)
        if row is None:
            continue
        detail = {**report.detail, "received_at": held.at}
        applied += _apply(conn, row, report, at, detail).applied
    return applied


def _apply(
    conn: Connection,
    row: sa.Row[Any, Any, Any],
    report: DeliveryReport,
    at: float,
    detail: JSONObject,
) -> ReportApplied:
    m = messages.c
    guid, current, profile_id = row.guid, Status(row.status), row.profile_id
    if current.value != _OPEN:
        return ReportApplied(guid, current, False)
    if report.status is Status.SENT:
        if _already_reported(conn, guid, report.reason):
            return ReportApplied(guid, current, False)
    else:
        conn.execute(
            sa.update(messages)
            .where(m.guid == guid)
            .values(status=report.status.value, reason=report.reason, updated_at=at)
        )
    entry = lifecycle_row(guid, at, report.status, report.reason, detail)
    append(conn, lifecycle, [entry])
    if report.bad_address is not None:
        record_bad_addresses(conn, [(profile_id, report.bad_address)], at)
    return ReportApplied(guid, report.status, True)
