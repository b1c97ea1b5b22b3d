"""Orchestration: a profile's recent messages, and storing what ``decide()`` chose."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core import reasons
from clarion.core.decision import Cancellation, Decision, Outcome
from clarion.core.history_needs import HistoryNeeds
from clarion.core.model import LIVE_INAPP, Channel, Event, PastMessage, Status
from clarion.store.schema import DONE, PROCESSING, events, inapp_state, lifecycle, messages
from clarion.store.sql import measurement, partitions
from clarion.store.sql.bulk import append, chunked, insert_new
from clarion.store.sql.convert import (
    PAST_COLUMNS,
    decision_detail,
    decision_row,
    lifecycle_row,
    past_of,
    ts,
)

LIVE_STATUSES = sorted(s.value for s in LIVE_INAPP)


def history(
    conn: Connection,
    profile_ids: Iterable[str],
    since: datetime,
    needs: HistoryNeeds | None = None,
) -> dict[str, list[PastMessage]]:
    """The profiles' recent and open messages; with ``needs``, only those the batch's
    decisions read (``core.history_needs``): everything recent for the profiles that
    caps are counted for, and for the others the messages with a dedup key and the
    open ones that an event type of the batch may cancel."""
    found: dict[str, list[PastMessage]] = {profile_id: [] for profile_id in profile_ids}
    m = messages.c
    is_open = sa.or_(
        m.status == Status.SCHEDULED.value,
        # Live in-app messages wait for their goal event however old they are.
        sa.and_(m.channel == Channel.INAPP.value, m.status.in_(LIVE_STATUSES)),
        # So do escalation ladders still waiting on a rung.
        m.confirm_by.is_not(None),
    )
    recent_or_open = sa.or_(
        m.created_at >= ts(since),
        # Caps count a message when due: one decided long ago may have gone out lately.
        m.due_at >= ts(since),
        is_open,
    )
    everything = sorted(found) if needs is None else sorted(needs.capped & found.keys())
    parts: list[tuple[list[str], sa.ColumnElement[bool]]] = [(everything, recent_or_open)]
    if needs is not None:
        rest = sorted(found.keys() - needs.capped)
        parts.append((rest, _read_without_caps(needs, since, is_open)))
    for ids_of_part, condition in parts:
        for ids in chunked(ids_of_part):
            query = (
                # An in-app message counts against caps from its first impression.
                sa.select(*PAST_COLUMNS, inapp_state.c.first_seen_at)
                .select_from(messages.outerjoin(inapp_state, inapp_state.c.guid == m.guid))
                .where(messages.c.profile_id.in_(ids), condition)
                .order_by(messages.c.created_at, messages.c.guid)
            )
            for row in conn.execute(query):
                found[row.profile_id].append(past_of(row))
    return found


#: Event types as intake takes them: their JSON text is themselves in quotes, and
#: none of LIKE's wildcards but ``_`` (escaped).
_PLAIN_TYPE = re.compile(r"[a-z0-9][a-z0-9_.:\-]*")


def _read_without_caps(
    needs: HistoryNeeds, since: datetime, is_open: sa.ColumnElement[bool]
) -> sa.ColumnElement[bool]:
    """The messages decide() reads of a profile whose caps it does not count."""
    m = messages.c
    wanted: list[sa.ColumnElement[bool]] = []
    if needs.dedup:
        # A suppressed message is no duplicate's original, unless it was held out.
        counts = sa.or_(m.status != Status.SUPPRESSED.value, m.reason == reasons.HELD_OUT)
        wanted.append(sa.and_(m.dedup_key.is_not(None), m.created_at >= ts(since), counts))
    types = sorted(needs.cancel_types)
    if types and all(_PLAIN_TYPE.fullmatch(t) for t in types):
        # Only the open messages whose cancel-on entries name one of the batch's types
        # (a match elsewhere in the text only reads one more: decide() checks each).
        text = sa.cast(m.cancel_on, sa.Text)
        named = [text.like('%"' + t.replace("_", "\\_") + '"%', escape="\\") for t in types]
        wanted.append(sa.and_(is_open, sa.or_(*named)))
    elif types:
        wanted.append(is_open)
    return sa.or_(*wanted) if wanted else sa.false()


@dataclass(frozen=True, slots=True)
class PreparedOutcomes:
    """Outcomes turned into rows before the write transaction starts, so that the
    transaction (which holds the database's one write lock) only writes."""

    event_ids: list[str]
    messages: list[dict[str, object]]  # one per decision, first guid wins
    entries: dict[str, dict[str, object]]  # each new message's first lifecycle entry
    #: More entries of new messages: a ladder rung skipped for the next (``escalated``).
    more: dict[str, dict[str, object]]
    cancellations: list[tuple[str, Cancellation]]  # with the id of the event behind each
    exposures: dict[str, dict[str, object]]  # by guid: the measured decisions
    goal_hits: list[measurement.GoalHit]  # the batch's goal events of measured messages


def prepare_outcomes(outcomes: Sequence[tuple[Event, Outcome]], now: datetime) -> PreparedOutcomes:
    at = ts(now)
    decisions: dict[str, Decision] = {}
    cancellations: list[tuple[str, Cancellation]] = []
    for event, outcome in outcomes:
        for decision in outcome.decisions:
            decisions.setdefault(decision.guid, decision)
        cancellations.extend((event.id, c) for c in outcome.cancellations)
    return PreparedOutcomes(
        sorted({event.id for event, _ in outcomes}),
        [decision_row(d, at) for d in decisions.values()],
        {
            d.guid: lifecycle_row(d.guid, ts(d.created_at), d.status, d.reason, decision_detail(d))
            for d in decisions.values()
        },
        _skipped_rungs(decisions, at),
        cancellations,
        {
            d.guid: row
            for d in decisions.values()
            if (row := measurement.exposure_row(d)) is not None
        },
        measurement.goal_hits(event for event, outcome in outcomes if outcome.converts),
    )


def _skipped_rungs(decisions: dict[str, Decision], at: float) -> dict[str, dict[str, object]]:
    """An ``escalated:skipped`` entry for each ladder rung that decide() passed over
    (its channel could not take the message) for the next one."""
    more: dict[str, dict[str, object]] = {}
    for d in decisions.values():
        skipped = decisions.get(d.escalated_from) if d.escalated_from else None
        if skipped is not None:
            detail = {"to": d.guid, "to_rung": d.rung, "to_channel": d.channel.value}
            reason = reasons.escalated(reasons.ESCALATION_SKIPPED)
            more[skipped.guid] = lifecycle_row(skipped.guid, at, skipped.status, reason, detail)
    return more


def apply_outcomes(conn: Connection, prepared: PreparedOutcomes, owner: str, now: datetime) -> int:
    at = ts(now)
    live = _finish_events(conn, prepared.event_ids, owner, at)
    # A guid names its event, so keeping the rows of live events keeps each guid once.
    rows = [row for row in prepared.messages if row["event_id"] in live]
    created = insert_new(conn, messages, rows, "guid")
    entries = [prepared.entries[str(row["guid"])] for row in rows if row["guid"] in created]
    entries += [entry for guid, entry in prepared.more.items() if guid in created]
    cancellations = [(e, c) for e, c in prepared.cancellations if e in live]
    entries += _cancel(conn, cancellations, at)
    append(conn, lifecycle, entries)
    exposed = [prepared.exposures[g] for g in sorted(created) if g in prepared.exposures]
    hits = [h for h in prepared.goal_hits if h.event_id in live]
    measurement.record(conn, exposed, hits, at)
    return len(created)


def _finish_events(conn: Connection, ids: Sequence[str], owner: str, at: float) -> set[str]:
    """Mark done the events ``owner`` still holds, in partitions it still owns; the ids
    it held. A partition that moved to another worker (this one was too slow, or
    presumed dead) voids the decisions made against its history here."""
    live: set[str] = set()
    owned = partitions.fence(conn, owner)
    if not owned:
        return live
    for chunk in chunked(ids):
        stmt = (
            sa.update(events)
            .where(
                events.c.id.in_(chunk),
                events.c.state == PROCESSING,
                events.c.lease_owner == owner,
                events.c.partition.in_(owned),
            )
            .values(state=DONE, processed_at=at, lease_until=None)
            .returning(events.c.id)
        )
        live.update(conn.execute(stmt).scalars())
    return live


def _cancel(
    conn: Connection, cancellations: Sequence[tuple[str, Cancellation]], at: float
) -> list[dict[str, object]]:
    """Cancel the messages still scheduled and resolve live in-app ones; a lifecycle
    entry for each one changed.

    ``cancellations`` pairs each with the id of the event that caused it."""
    by_kind: dict[tuple[str, Status], set[str]] = defaultdict(set)
    cause: dict[str, str] = {}
    for event_id, cancellation in cancellations:
        by_kind[cancellation.reason, cancellation.status].add(cancellation.guid)
        cause.setdefault(cancellation.guid, event_id)
    entries: list[dict[str, object]] = []
    for (reason, status), guids in by_kind.items():
        if status not in _LEAVES:
            entries += _stop_ladders(conn, sorted(guids), reason, cause, at)
            continue
        # A message only leaves a state it is still in (a concurrent send wins).
        still = [Status.SCHEDULED.value] if status is Status.CANCELLED else LIVE_STATUSES
        for chunk in chunked(sorted(guids)):
            stmt = (
                sa.update(messages)
                .where(messages.c.guid.in_(chunk), messages.c.status.in_(still))
                # A cancelled or resolved rung of an escalation ladder ends the ladder.
                .values(status=status.value, reason=reason, updated_at=at, confirm_by=None)
                .returning(messages.c.guid)
            )
            for guid in conn.execute(stmt).scalars():
                detail = {"event_id": cause[guid]}
                entries.append(lifecycle_row(guid, at, status, reason, detail))
    return entries


#: Cancellation statuses that move a message to a new state; any other only stops
#: the escalation ladder the message is on (see ``core.decision.Cancellation``).
_LEAVES = frozenset({Status.CANCELLED, Status.RESOLVED})


def _stop_ladders(
    conn: Connection, guids: Sequence[str], reason: str, cause: dict[str, str], at: float
) -> list[dict[str, object]]:
    """End the ladders still waiting on these messages; their status stays as it is."""
    entries: list[dict[str, object]] = []
    for chunk in chunked(guids):
        stmt = (
            sa.update(messages)
            .where(messages.c.guid.in_(chunk), messages.c.confirm_by.is_not(None))
            .values(confirm_by=None, updated_at=at)
            .returning(messages.c.guid, messages.c.status)
        )
        for guid, status in conn.execute(stmt):
            detail = {"event_id": cause[guid]}
            entries.append(lifecycle_row(guid, at, Status(status), reason, detail))
    return entries
