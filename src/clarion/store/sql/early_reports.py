"""Delivery reports that arrive before their message's provider reference is stored.

A provider may report on a message before the dispatcher has recorded the
reference the provider returned (the dispatcher records a whole batch after its
sends). Such a report is held here, keyed by (reference, status), and applied in
the transaction that stores the reference (``receipts.apply_held``). A held
report whose reference never turns up is purged after ``KEEP_SECONDS``.

On PostgreSQL both sides take a transaction-scoped advisory lock per reference,
so a report and the transaction storing its reference cannot each miss the
other (the report sees the stored reference, or the dispatcher sees the held
report). SQLite needs nothing: it has one writer at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.delivery import BadAddress, DeliveryReport
from clarion.core.model import Status
from clarion.store.schema import early_reports
from clarion.store.sql.bulk import chunked
from clarion.store.sql.dialects import dialect_of

#: How long an unmatched report is kept: far longer than any batch takes to record.
KEEP_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class HeldReport:
    """A held report and when it was received."""

    report: DeliveryReport
    at: float


def lock_refs(conn: Connection, refs: Sequence[str]) -> bool:
    """Serialize with other transactions on these references (an advisory lock
    each on PostgreSQL); whether this may have waited for one of them."""
    return dialect_of(conn).lock_refs(conn, refs)


def hold(conn: Connection, report: DeliveryReport, at: float) -> None:
    """Keep ``report`` until its reference is stored; a repeat changes nothing.

    Also purges held reports older than ``KEEP_SECONDS``: unmatched reports are
    rare, so doing it here costs the dispatcher nothing and keeps the table small.
    """
    bad = report.bad_address
    row = {
        "provider_ref": report.provider_ref,
        "status": report.status.value,
        "reason": report.reason,
        "detail": dict(report.detail),
        "bad_kind": bad.kind if bad else None,
        "bad_value": bad.value if bad else None,
        "bad_code": bad.code if bad else None,
        "bad_lasts": bad.lasts.total_seconds() if bad and bad.lasts is not None else None,
        "at": at,
    }
    conn.execute(
        dialect_of(conn)
        .insert(early_reports)
        .on_conflict_do_nothing(index_elements=["provider_ref", "status"]),
        [row],
    )
    conn.execute(sa.delete(early_reports).where(early_reports.c.at < at - KEEP_SECONDS))


def take_held(conn: Connection, refs: Sequence[str]) -> list[HeldReport]:
    """Remove and return the reports held for ``refs``, oldest first."""
    e = early_reports.c
    held: list[HeldReport] = []
    for chunk in chunked(sorted(set(refs))):
        query = sa.select(early_reports).where(e.provider_ref.in_(chunk))
        held.extend(_held_of(row) for row in conn.execute(query))
    if held:
        found = sorted({h.report.provider_ref for h in held})
        for chunk in chunked(found):
            conn.execute(sa.delete(early_reports).where(e.provider_ref.in_(chunk)))
    held.sort(key=lambda h: (h.at, h.report.provider_ref, h.report.status.value))
    return held


def _held_of(row: sa.Row[object]) -> HeldReport:
    bad = None
    if row.bad_kind is not None and row.bad_value is not None and row.bad_code is not None:
        lasts = timedelta(seconds=row.bad_lasts) if row.bad_lasts is not None else None
        bad = BadAddress(row.bad_kind, row.bad_value, row.bad_code, lasts)
    report = DeliveryReport(
        row.provider_ref, Status(row.status), row.reason, dict(row.detail or {}), bad
    )
    return HeldReport(report, float(row.at))
