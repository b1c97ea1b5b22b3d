"""``decide()``: given an event, the profiles it reaches, their recent messages, the
catalog and the clock, which messages to create, on which channel, when, or why not.

Pure: no I/O, no clock reads, no randomness. Adapters load its inputs and carry
out its ``Outcome``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from clarion.core import reasons
from clarion.core.cancel import bind, cancels
from clarion.core.decision import Cancellation, Decision, Outcome, as_past, remembered
from clarion.core.eligibility import dedup_key_of, message_block, schedule, step_block
from clarion.core.experiment import is_held_out
from clarion.core.ids import message_guid
from clarion.core.model import LIVE_INAPP, PENDING, Channel, Event, PastMessage, Profile, Status
from clarion.core.spec import Audience, CatalogSpec, ChannelMode, MessageSpec


def audience_of(event: Event, catalog: CatalogSpec) -> Audience:
    """Which profiles the orchestrator must load for ``event``: its own, or its account's."""
    for spec in catalog.by_trigger.get(event.type, ()):
        if spec.audience is Audience.ACCOUNT and event.account_id:
            return Audience.ACCOUNT
    return Audience.PROFILE


def decide(
    event: Event,
    profiles: Mapping[str, Profile],
    history: Mapping[str, Sequence[PastMessage]],
    catalog: CatalogSpec,
    now: datetime,
) -> Outcome:
    """Decide what ``event`` causes. ``profiles`` holds the event's profile (and, for
    account audiences, every profile of its account); ``history`` their recent and
    pending messages."""
    own_history = history.get(event.profile_id, ())
    cancellations = _cancellations(event, own_history) if own_history else ()
    decisions: list[Decision] = []
    # One fatigue budget: each message is checked against its profile's history and
    # what this event already decided for the profile, in catalog order, so that the
    # event's messages together cannot exceed a cap. The caller's lists stay as given
    # (the orchestrator folds the outcome into them itself).
    running: dict[str, list[PastMessage]] = {}
    specs = catalog.by_trigger.get(event.type, ())
    for i, spec in enumerate(specs):
        if spec.condition is not None and not spec.condition(event.payload):
            continue
        # Transactional steps bypass caps: only the event's later messages need them.
        track = i + 1 < len(specs) or not spec.transactional
        for profile in _targets(spec, event, profiles):
            past = running.get(profile.id)
            if past is None:
                past = running[profile.id] = list(history.get(profile.id, ()))
            decisions += _decide_profile(spec, event, profile, past, catalog, now, track)
    return Outcome(tuple(decisions), cancellations, event.type in catalog.goal_events)


def _cancellations(event: Event, history: Sequence[PastMessage]) -> tuple[Cancellation, ...]:
    """Pending messages the event cancels, and live in-app ones it resolves."""
    etype = event.type
    found = []
    for m in history:
        if not m.cancel_on or not cancels(m.cancel_on, event):
            continue
        if m.status in PENDING:
            found.append(Cancellation(m.guid, event.profile_id, reasons.cancelled(etype)))
        elif m.channel is Channel.INAPP and m.status in LIVE_INAPP:
            reason = reasons.resolved(etype)
            found.append(Cancellation(m.guid, event.profile_id, reason, Status.RESOLVED))
        elif m.escalating:
            # Already out, but its ladder is still waiting: stop it, keep the status.
            reason = reasons.escalation_stopped(etype)
            found.append(Cancellation(m.guid, event.profile_id, reason, m.status))
    return tuple(found)


def _targets(spec: MessageSpec, event: Event, profiles: Mapping[str, Profile]) -> list[Profile]:
    if spec.audience is Audience.ACCOUNT and event.account_id:
        return sorted(
            (p for p in profiles.values() if p.account_id == event.account_id), key=lambda p: p.id
        )
    own = profiles.get(event.profile_id)
    return [own] if own is not None else [Profile(id=event.profile_id)]


def _decide_profile(
    spec: MessageSpec,
    event: Event,
    profile: Profile,
    past: list[PastMessage],
    catalog: CatalogSpec,
    now: datetime,
    track: bool = True,
) -> list[Decision]:
    """``spec``'s decisions for ``profile``; its scheduled steps join ``past`` when
    ``track`` (something decided after them may count them)."""
    test_id = cell = None
    if spec.experiment is not None:
        test_id, cell = spec.experiment.id, spec.experiment.allocate(profile.id)
        spec = spec.for_cell(cell)
    measured = spec.goal if spec.holdout or test_id is not None else None
    dedup_key = dedup_key_of(spec, event)
    due, expires_at, moved = schedule(spec, event, profile, catalog, now)
    blocked = message_block(spec, event, profile, past, dedup_key, now, due)
    if blocked is None and (due is None or (expires_at is not None and due > expires_at)):
        blocked = reasons.EXPIRED
    made: list[Decision] = []
    # Each scheduled step joins ``past`` at once: later steps, and the event's later
    # messages, count it against their caps.
    start = len(past)
    first_only = spec.channel_mode is ChannelMode.FIRST
    name, cancel_on = spec.name, bind(spec, event)
    rungs = spec.rungs
    climbed = False  # a rung of the ladder is scheduled: the rest wait for escalation
    for step in spec.order:
        rung = rungs.get(step.index) if rungs else None
        if rung is not None and climbed:
            break  # rungs come last in ``order``
        reason: str | None = blocked
        devices: tuple[str, ...] = ()
        if reason is None:
            reason, devices = step_block(spec, step, profile, past, catalog, now, due)
        if reason is None:
            status = Status.SCHEDULED
            reason = reasons.OUTSIDE_WINDOW if moved else None
        else:
            status = Status.EXPIRED if reason == reasons.EXPIRED else Status.SUPPRESSED
        scheduled = status is Status.SCHEDULED
        guid = message_guid(event.id, name, step.index, profile.id)
        made.append(
            Decision(
                guid=guid,
                event_id=event.id,
                profile_id=profile.id,
                message=name,
                message_id=spec.id,
                category=spec.category,
                channel=step.channel,
                step=step.index,
                status=status,
                reason=reason,
                created_at=now,
                due_at=due if scheduled else None,
                expires_at=expires_at,
                dedup_key=dedup_key,
                cancel_on=cancel_on,
                devices=devices,
                country=profile.country,
                ab_test_id=test_id,
                ab_test_cell=cell,
                goal=measured,
                holdout=spec.holdout,
            )
        )
        if rung is not None:
            made[-1] = on_ladder(made[-1], spec, rung, profile.id)
            climbed = scheduled
        if scheduled:
            if track:
                past.append(as_past(made[-1]))
            if first_only:
                break
    if spec.holdout and is_held_out(spec.name, profile.id, spec.holdout):
        # Its steps were checked as the sends they replace; never sent, they count
        # against this message's own caps and dedup only.
        made = _held_out(made)
        past[start:] = [m for d in made if (m := remembered(d)) is not None]
    return made


def on_ladder(decision: Decision, spec: MessageSpec, rung: int, profile_id: str) -> Decision:
    """``decision`` (on rung ``rung`` of ``spec``'s ladder) with its ladder fields: the
    ladder's id, the rung it came from, and its confirmation deadline when scheduled."""
    ladder = spec.escalation
    first = message_guid(decision.event_id, spec.name, ladder[0].step, profile_id)
    previous = (
        message_guid(decision.event_id, spec.name, ladder[rung - 1].step, profile_id)
        if rung
        else None
    )
    timeout = ladder[rung].timeout
    confirm_by = None
    if decision.status is Status.SCHEDULED and timeout is not None and decision.due_at:
        confirm_by = decision.due_at + timeout
    return decision._replace(
        ladder=first, rung=rung, escalated_from=previous, confirm_by=confirm_by
    )


def _held_out(made: list[Decision]) -> list[Decision]:
    """The decisions with every scheduled one held out: recorded as it would have
    been sent (same guid, channel, creation time), suppressed with ``held_out``."""
    return [
        d._replace(status=Status.SUPPRESSED, reason=reasons.HELD_OUT, due_at=None, confirm_by=None)
        if d.status is Status.SCHEDULED
        else d
        for d in made
    ]
