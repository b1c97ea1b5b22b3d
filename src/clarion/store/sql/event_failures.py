"""Events whose processing raised: counted, retried after a backoff, then dead-lettered.

A failed event stays ``processing`` with its lease running until its retry is
due, so the orchestrator's claim (which takes expired leases) picks it up
again then, without a column or a query of its own. After its last attempt it
is ``dead``: no claim takes it, and its row keeps the error.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.backoff import RetryPolicy
from clarion.store.records import EventFailure
from clarion.store.schema import DEAD, PROCESSING, events
from clarion.store.sql.convert import ts

#: ``last_error`` keeps the start of a long message: enough to name the fault.
MAX_ERROR = 500


def record_failure(
    conn: Connection,
    event_id: str,
    owner: str,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    unit: float,
) -> EventFailure | None:
    """Count a failed attempt of an event ``owner`` holds; None if it lost the lease."""
    held = sa.and_(
        events.c.id == event_id, events.c.state == PROCESSING, events.c.lease_owner == owner
    )
    counted = (
        sa.update(events)
        .where(held)
        .values(attempts=events.c.attempts + 1, last_error=error[:MAX_ERROR])
        .returning(events.c.attempts)
    )
    attempts = conn.execute(counted).scalar()
    if attempts is None:
        return None
    at = ts(now)
    if policy.exhausted(attempts):
        values: dict[str, object] = {"state": DEAD, "processed_at": at, "lease_until": None}
        retry_at = None
    else:
        retry_at = now + timedelta(seconds=policy.delay(attempts, unit))
        values = {"lease_owner": None, "lease_until": ts(retry_at)}
    conn.execute(sa.update(events).where(events.c.id == event_id).values(values))
    return EventFailure(event_id, attempts, retry_at)
