"""The escalation ladder's rules: when a rung is confirmed, failed or timed out, and
which message the ladder sends next.

``decide()`` creates the ladder's first eligible rung and records the ladder on it
(``Decision.ladder``, ``rung``, ``confirm_by``); from then on the escalation worker
reads the rungs still open and asks ``move()`` what to do. Pure: the worker loads
the inputs and stores the ``LadderMove``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clarion.core import reasons
from clarion.core.cancel import bind
from clarion.core.decide import on_ladder
from clarion.core.decision import Decision
from clarion.core.eligibility import schedule, step_block, still_wanted
from clarion.core.ids import message_guid
from clarion.core.model import Channel, Event, PastMessage, Profile, Status
from clarion.core.spec import CatalogSpec, MessageSpec

#: A rung whose status says it failed: the ladder moves on at once.
FAILED = frozenset({Status.FAILED, Status.EXPIRED})
#: Statuses that end a ladder without escalating (the goal or a cancel-on event came).
STOPPED = frozenset({Status.CANCELLED, Status.RESOLVED, Status.SUPPRESSED})


@dataclass(frozen=True, slots=True)
class OpenRung:
    """A message on an escalation ladder that may still move on (``confirm_by`` set)."""

    guid: str
    event: Event
    profile_id: str
    message: str
    channel: Channel
    rung: int
    status: Status
    confirm_by: datetime
    expires_at: datetime | None = None
    #: In-app: a device reported a CTA click on it (which confirms it, like delivery).
    acted: bool = False
    #: The ladder's A/B test and cell, as decide() allocated them: later rungs keep
    #: them, so they render the cell's content and their tracking names the test.
    ab_test_id: int | None = None
    ab_test_cell: int | None = None


@dataclass(frozen=True, slots=True)
class LadderMove:
    """What happens to an open rung: the ladder closes there (``decisions`` empty) or
    escalates to the next rungs (the skipped ones first, then the one scheduled)."""

    guid: str
    status: Status  # the rung's status when read
    reason: str  # escalated:<why>, escalation_confirmed, escalation_stopped:<status>
    #: The rung was still scheduled when it timed out: cancel it rather than send late.
    cancel: bool = False
    decisions: tuple[Decision, ...] = ()


def move(
    rung: OpenRung,
    spec: MessageSpec | None,
    profile: Profile,
    past: Sequence[PastMessage],
    catalog: CatalogSpec,
    now: datetime,
) -> LadderMove | None:
    """What to do with ``rung`` at ``now``; ``None`` while it still has time."""
    status = rung.status
    if status is Status.DELIVERED or rung.acted:
        return LadderMove(rung.guid, status, reasons.ESCALATION_CONFIRMED)
    if status in STOPPED:
        return LadderMove(rung.guid, status, f"escalation_stopped:{status.value}")
    if status in FAILED:
        why = reasons.ESCALATION_FAILED
    elif now >= rung.confirm_by:
        why = reasons.ESCALATION_TIMEOUT
    else:
        return None
    cancel = status is Status.SCHEDULED
    if spec is None or rung.rung + 1 >= len(spec.escalation):
        # The catalog changed under the ladder: nothing left to climb to.
        return LadderMove(rung.guid, status, "escalation_ended", cancel)
    made = next_rungs(spec, rung, profile, past, catalog, now)
    return LadderMove(rung.guid, status, reasons.escalated(why), cancel, made)


def next_rungs(
    spec: MessageSpec,
    rung: OpenRung,
    profile: Profile,
    past: Sequence[PastMessage],
    catalog: CatalogSpec,
    now: datetime,
) -> tuple[Decision, ...]:
    """The rungs after ``rung``: each one its channel cannot take (opted out, no
    address, no device, capped) recorded as suppressed, up to the first one scheduled.

    The same eligibility rules as ``decide()`` apply to each, except the ones that
    concern the message as a whole and were settled when the ladder started
    (segment, dedup, message caps); category opt-outs and dismissals are checked
    again, since the profile may have changed its mind meanwhile.
    """
    event = rung.event
    blocked = still_wanted(spec, profile, now)
    due, _, moved = schedule(spec, event, profile, catalog, now)
    expires_at = rung.expires_at
    if blocked is None and (due is None or (expires_at is not None and due > expires_at)):
        blocked = reasons.EXPIRED
    made: list[Decision] = []
    for number in range(rung.rung + 1, len(spec.escalation)):
        index = spec.escalation[number].step
        step = spec.channels[index]
        reason = blocked
        devices: tuple[str, ...] = ()
        if reason is None:
            reason, devices = step_block(spec, step, profile, past, catalog, now, due)
        if reason is None:
            status, reason = Status.SCHEDULED, reasons.OUTSIDE_WINDOW if moved else None
        else:
            status = Status.EXPIRED if reason == reasons.EXPIRED else Status.SUPPRESSED
        scheduled = status is Status.SCHEDULED
        decision = Decision(
            guid=message_guid(event.id, spec.name, index, profile.id),
            event_id=event.id,
            profile_id=profile.id,
            message=spec.name,
            message_id=spec.id,
            category=spec.category,
            channel=step.channel,
            step=index,
            status=status,
            reason=reason,
            created_at=now,
            due_at=due if scheduled else None,
            expires_at=expires_at,
            cancel_on=bind(spec, event),
            devices=devices,
            country=profile.country,
            ab_test_id=rung.ab_test_id,
            ab_test_cell=rung.ab_test_cell,
        )
        made.append(on_ladder(decision, spec, number, profile.id))
        if scheduled or status is Status.EXPIRED:
            break
    return tuple(made)


def ladder_entries(move: LadderMove) -> list[tuple[str, Status, str, dict[str, object]]]:
    """The lifecycle entries a move adds beyond each new rung's first one:
    (guid, status, reason, detail) for the rung left and each rung skipped."""
    entries: list[tuple[str, Status, str, dict[str, object]]] = []
    if not move.decisions:
        return [(move.guid, move.status, move.reason, {})]
    left_status = Status.CANCELLED if move.cancel else move.status
    previous = (move.guid, left_status, move.reason)
    for d in move.decisions:
        guid, status, reason = previous
        detail: dict[str, object] = {"to": d.guid, "to_rung": d.rung, "to_channel": d.channel.value}
        entries.append((guid, status, reason, detail))
        previous = (d.guid, d.status, reasons.escalated(reasons.ESCALATION_SKIPPED))
    return entries
