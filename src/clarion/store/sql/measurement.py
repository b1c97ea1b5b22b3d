"""Measurement at decision time: exposures (measured decisions) and the goal events
that convert them, written in the transaction that stores the decisions.

A decision is an exposure when its message has a goal and it was scheduled
(treated) or held out; a goal event of the same profile at or after the
decision and no later than the goal's window converts it. The first such event
is kept, so processing an event again (a retried batch) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core import reasons
from clarion.core.decision import Decision
from clarion.core.model import Event, Status
from clarion.observability import CONVERSIONS
from clarion.store.schema import HELD_OUT, TREATED, conversions, exposures
from clarion.store.sql.bulk import append, chunked, insert_new
from clarion.store.sql.convert import ts


@dataclass(frozen=True, slots=True)
class GoalHit:
    """An event of the batch that may be a goal event: what attribution compares."""

    event_id: str
    type: str
    profile_id: str
    at: float  # occurred_at, epoch seconds


def exposure_row(decision: Decision) -> dict[str, object] | None:
    """The exposure a decision makes, or ``None`` when it is not measured."""
    goal = decision.goal
    if goal is None:
        return None
    if decision.status is Status.SCHEDULED:
        arm = TREATED
    elif decision.reason == reasons.HELD_OUT:
        arm = HELD_OUT
    else:
        return None
    return {
        "guid": decision.guid,
        "event_id": decision.event_id,
        "profile_id": decision.profile_id,
        "message": decision.message,
        "channel": decision.channel.value,
        "arm": arm,
        "ab_test_id": decision.ab_test_id,
        "ab_test_cell": decision.ab_test_cell,
        "created_at": ts(decision.created_at),
        "goal_event": goal.event,
        "goal_until": ts(decision.created_at + goal.within),
        "holdout": decision.holdout,
    }


def goal_hits(events: Iterable[Event]) -> list[GoalHit]:
    return [GoalHit(e.id, e.type, e.profile_id, ts(e.occurred_at)) for e in events]


def record(
    conn: Connection, rows: Sequence[dict[str, object]], hits: Sequence[GoalHit], now: float
) -> int:
    """Insert the exposures of new messages, then convert the ones the batch's goal
    events reach; returns how many conversions are new.

    ``rows`` belong to messages this transaction created, so their guids are new here
    too (an exposure is only ever written with its message): a plain insert."""
    append(conn, exposures, rows)
    if not hits:
        return 0
    found = _attribute(conn, hits, now)
    new = insert_new(conn, conversions, [row for row, _ in found.values()], "guid")
    for guid in new:
        row, arm = found[guid]
        CONVERSIONS.labels(message=row["message"], arm=arm).inc()
    return len(new)


def _attribute(
    conn: Connection, hits: Sequence[GoalHit], now: float
) -> dict[str, tuple[dict[str, object], str]]:
    """The conversions the hits make, by exposure guid, with the exposure's arm."""
    by_profile: dict[str, list[GoalHit]] = {}
    for each in sorted(hits, key=lambda h: (h.at, h.event_id)):
        by_profile.setdefault(each.profile_id, []).append(each)
    types = sorted({h.type for h in hits})
    earliest = min(h.at for h in hits)
    x = exposures.c
    found: dict[str, tuple[dict[str, object], str]] = {}
    for ids in chunked(sorted(by_profile)):
        query = sa.select(
            x.guid, x.profile_id, x.message, x.arm, x.goal_event, x.created_at, x.goal_until
        ).where(x.profile_id.in_(ids), x.goal_event.in_(types), x.goal_until >= earliest)
        for guid, profile_id, message, arm, goal_event, created_at, until in conn.execute(query):
            hit = next(
                (
                    h
                    for h in by_profile[profile_id]
                    if h.type == goal_event and created_at <= h.at <= until
                ),
                None,
            )
            if hit is not None:
                row = {
                    "guid": guid,
                    "profile_id": profile_id,
                    "message": message,
                    "goal_event_id": hit.event_id,
                    "converted_at": hit.at,
                    "recorded_at": now,
                }
                found[guid] = (row, arm)
    return found
