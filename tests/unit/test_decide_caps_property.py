"""Property: whatever a profile's history and however many messages an event
causes (several catalog messages on its type, channel steps, an account's profiles,
delays, holdouts), the messages it schedules never leave a cap exceeded.

Counted here on their own, as ``core/caps.py`` defines it: a message counts from its
due time (an in-app one from its first impression), while its status is COUNTED; a
held-out one counts against its own message's caps only, from its creation; a
message cap counts events, channel and global caps messages. A window holding one
of the event's new messages must hold no more than the cap's limit (a window the
history alone already overran is stopped, so it gets nothing new)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clarion.core import reasons
from clarion.core.decide import decide
from clarion.core.decision import Decision, remembered
from clarion.core.model import COUNTED, Channel, PastMessage, Status
from clarion.core.spec import Audience, Cap, ChannelMode, MessageSpec, Policy, Timing
from tests.unit.core_fixtures import T0, catalog, event, message, profile, step

CHANNELS = (Channel.PUSH, Channel.EMAIL, Channel.SMS, Channel.INAPP)
NAMES = ("m1", "m2", "m3", "m4")
PROFILES = ("p1", "p2", "p3")
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Touch:
    """One message as the caps see it: when it counts, where, for which message."""

    at: datetime
    channel: Channel
    message: str
    event_id: str
    held_out: bool  # counts against its own message's caps only


def _touch_of_past(m: PastMessage) -> Touch | None:
    if m.held_out:
        return Touch(m.due_at or m.created_at, m.channel, m.message, m.event_id, True)
    if m.status not in COUNTED:
        return None
    at = m.first_seen_at if m.channel is Channel.INAPP else (m.due_at or m.created_at)
    return None if at is None else Touch(at, m.channel, m.message, m.event_id, False)


def _touch_of_decision(d: Decision) -> Touch | None:
    if d.reason == reasons.HELD_OUT:
        return Touch(d.created_at, d.channel, d.message, d.event_id, True)
    if d.status is not Status.SCHEDULED or d.channel is Channel.INAPP or d.due_at is None:
        return None  # a new in-app message counts from an impression it has not had
    return Touch(d.due_at, d.channel, d.message, d.event_id, False)


@st.composite
def _past(draw: st.DrawFn, i: int) -> PastMessage:
    channel = draw(st.sampled_from(CHANNELS))
    created = T0 - draw(st.integers(0, 48)) * HOUR
    held_out = draw(st.booleans()) and draw(st.booleans())
    status = Status.SUPPRESSED if held_out else draw(st.sampled_from(list(Status)))
    due = draw(st.none() | st.integers(0, 60).map(lambda h: created + h * HOUR))
    seen = draw(st.none() | st.integers(0, 48).map(lambda h: T0 - h * HOUR))
    return PastMessage(
        f"old{i}",
        draw(st.sampled_from(NAMES)),
        channel,
        status,
        created,
        event_id=f"old-event{draw(st.integers(0, 5))}",
        held_out=held_out,
        due_at=due,
        first_seen_at=seen if channel is Channel.INAPP else None,
    )


@st.composite
def _spec(draw: st.DrawFn, i: int) -> MessageSpec:
    channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
    caps = draw(st.lists(st.builds(Cap, st.just("own"), st.integers(1, 3), _windows()), max_size=1))
    delay = draw(st.sampled_from([0, 0, 1, 5, 30])) * HOUR
    # Not both a delay and a holdout: a held-out message is checked at the due time it
    # would have had but counts from its decision (docs/catalog.md), so a delayed one
    # may share a window with an older send of its own message. A known gap of the
    # holdout rule, not of one event's messages.
    holdout = draw(st.sampled_from([0.0, 0.0, 0.5, 1.0])) if not delay else 0.0
    return message(
        NAMES[i],
        id=draw(st.integers(1, 50)),
        channels=tuple(step(k, c) for k, c in enumerate(channels)),
        channel_mode=draw(st.sampled_from(ChannelMode)),
        audience=draw(st.sampled_from(Audience)),
        timing=Timing(delay=delay),
        caps=tuple(caps),
        holdout=holdout,
    )


def _windows() -> st.SearchStrategy[timedelta]:
    return st.sampled_from([HOUR, 6 * HOUR, 24 * HOUR, 72 * HOUR])


def _caps(limit_max: int) -> st.SearchStrategy[tuple[Cap, ...]]:
    return st.lists(
        st.builds(Cap, st.just("cap"), st.integers(1, limit_max), _windows()), max_size=2
    ).map(tuple)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_events_never_leave_a_cap_exceeded(data: st.DataObject) -> None:
    """One event, or a few of a batch decided one after the other, each outcome folded
    into the history the next one sees (``remembered``, as the orchestrator does)."""
    n_specs = data.draw(st.integers(1, 4))
    specs = [data.draw(_spec(i)) for i in range(n_specs)]
    policy = Policy(
        global_caps=data.draw(_caps(6)),
        channel_caps={c: data.draw(_caps(3)) for c in CHANNELS if data.draw(st.booleans())},
    )
    cat = catalog(*specs, policy=policy)
    profiles = {pid: profile(pid, account_id="acc") for pid in PROFILES}
    history = {
        pid: [data.draw(_past(k)) for k in range(data.draw(st.integers(0, 8)))] for pid in PROFILES
    }
    batch = {pid: list(found) for pid, found in history.items()}
    decisions: list[Decision] = []
    now = T0
    for k in range(data.draw(st.integers(1, 3))):
        now += data.draw(st.sampled_from([0, 1, 120])) * timedelta(minutes=1)
        pid = data.draw(st.sampled_from(PROFILES))
        out = decide(event(f"now{k}", pid=pid, at=now, account_id="acc"), profiles, batch, cat, now)
        decisions += out.decisions
        for d in out.decisions:
            if (past := remembered(d)) is not None:
                batch[d.profile_id].append(past)

    for pid in PROFILES:
        old = [t for m in history[pid] if (t := _touch_of_past(m)) is not None]
        new = [t for d in decisions if d.profile_id == pid and (t := _touch_of_decision(d))]
        touches = old + new
        for spec in specs:
            own = [t for t in touches if t.message == spec.name]
            _assert_within(own, new, spec.caps, per_event=True)
        sent = [t for t in touches if not t.held_out]
        for channel, channel_caps in policy.channel_caps.items():
            if channel is not Channel.INAPP:  # in-app ones count impressions, when fetched
                on_it = [t for t in sent if t.channel is channel]
                _assert_within(on_it, new, channel_caps, per_event=False)
        _assert_within(sent, new, policy.global_caps, per_event=False)


def _assert_within(
    counted: list[Touch], new: list[Touch], caps: tuple[Cap, ...], per_event: bool
) -> None:
    for cap in caps:
        for fresh in (t for t in new if t in counted):
            # The most crowded window holding ``fresh`` ends at a message at or after it.
            for end in {t.at for t in counted if fresh.at <= t.at < fresh.at + cap.window}:
                inside = [t for t in counted if end - cap.window < t.at <= end]
                n = len({t.event_id for t in inside}) if per_event else len(inside)
                assert n <= cap.limit, (cap, end, inside)
