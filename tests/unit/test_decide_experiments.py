"""decide() with holdouts and A/B cells: held-out decisions pass every rule and are
recorded like sends; cells get their overrides; every decision names its cell."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clarion.core import reasons
from clarion.core.decide import decide
from clarion.core.experiment import Cell, Experiment, is_held_out
from clarion.core.model import Channel, PastMessage, Status
from clarion.core.spec import Cap, ChannelMode, Dedup, Goal, MessageSpec, Timing

from .core_fixtures import T0, catalog, event, message, profile, step

GOAL = Goal("thing.done", timedelta(days=2))
IDS = [f"p{i}" for i in range(400)]


def held(share: float) -> MessageSpec:
    channels = (step(0, Channel.PUSH), step(1, Channel.EMAIL))
    return message(holdout=share, goal=GOAL, channels=channels)


def test_a_held_out_decision_is_recorded_like_the_send_it_replaces() -> None:
    spec = held(0.5)
    out_id = next(p for p in IDS if is_held_out(spec.name, p, 0.5))
    kept = decide(event(pid=out_id), {out_id: profile(out_id)}, {}, catalog(spec), T0).decisions
    sent = decide(event(pid=out_id), {out_id: profile(out_id)}, {}, catalog(held(0.0)), T0)
    assert [d.status for d in sent.decisions] == [Status.SCHEDULED, Status.SCHEDULED]
    assert [(d.status, d.reason) for d in kept] == [(Status.SUPPRESSED, reasons.HELD_OUT)] * 2
    for a, b in zip(sent.decisions, kept, strict=True):
        assert (a.guid, a.channel, a.created_at) == (b.guid, b.channel, b.created_at)
        assert a.devices == b.devices and a.expires_at == b.expires_at
        assert b.due_at is None and b.goal == GOAL


def test_only_eligible_decisions_are_held_out() -> None:
    spec = held(0.5)
    out_id = next(p for p in IDS if is_held_out(spec.name, p, 0.5))
    opted = profile(out_id, opt_out_channels=frozenset({"email"}))
    made = decide(event(pid=out_id), {out_id: opted}, {}, catalog(spec), T0).decisions
    assert [(d.channel, d.reason) for d in made] == [
        (Channel.PUSH, reasons.HELD_OUT),
        (Channel.EMAIL, reasons.OPTED_OUT),
    ]
    nobody = profile(out_id, opt_out_categories=frozenset({"engagement"}))
    made = decide(event(pid=out_id), {out_id: nobody}, {}, catalog(spec), T0).decisions
    assert {d.reason for d in made} == {reasons.OPTED_OUT}


def test_the_held_out_share_matches_the_declared_one_and_is_stable() -> None:
    spec = held(0.25)
    people = {p: profile(p) for p in IDS}
    outcome = [decide(event(f"e{p}", pid=p), people, {}, catalog(spec), T0) for p in IDS]
    out = {o.decisions[0].profile_id for o in outcome if o.decisions[0].reason == "held_out"}
    assert 0.25 - 0.07 < len(out) / len(IDS) < 0.25 + 0.07
    again = [decide(event(f"x{p}", pid=p), people, {}, catalog(spec), T0) for p in IDS]
    assert {o.decisions[0].profile_id for o in again if o.decisions[0].reason == "held_out"} == out


def test_held_out_messages_count_against_no_cap() -> None:
    spec = held(1.0 - 1e-9)  # everyone held out (the loader caps shares at 50%)
    made = decide(event(pid="p1"), {"p1": profile()}, {}, catalog(spec), T0).decisions
    assert all(d.reason == reasons.HELD_OUT for d in made)
    assert not any(d.status is Status.SCHEDULED for d in made)


def _ab_message() -> MessageSpec:
    base = message(goal=GOAL, channel_mode=ChannelMode.FIRST)
    b = replace(base, channels=(step(0, Channel.EMAIL),), timing=Timing(delay=timedelta(hours=3)))
    test = Experiment(9, "", (Cell("control", 1), Cell("email_later", 1, ("channels", "timing"))))
    return replace(base, experiment=test, variants=(base, b))


def test_cells_carry_their_overrides_and_name_themselves() -> None:
    spec = _ab_message()
    assert spec.experiment is not None
    cells: dict[int, list[str]] = {0: [], 1: []}
    for pid in IDS[:60]:
        [d] = decide(event(pid=pid), {pid: profile(pid)}, {}, catalog(spec), T0).decisions
        assert d.ab_test_id == 9 and d.ab_test_cell == spec.experiment.allocate(pid)
        assert d.ab_test_cell is not None
        cells[d.ab_test_cell].append(pid)
        if d.ab_test_cell == 0:
            assert (d.channel, d.due_at) == (Channel.PUSH, T0)
        else:
            assert (d.channel, d.due_at) == (Channel.EMAIL, T0 + timedelta(hours=3))
    assert cells[0] and cells[1]


def test_for_cell_falls_back_to_the_message_itself() -> None:
    spec = _ab_message()
    assert spec.for_cell(1).channels[0].channel is Channel.EMAIL
    assert spec.for_cell(None) is spec and spec.for_cell(7) is spec


def test_decisions_outside_tests_have_no_cell() -> None:
    [d] = decide(event(), {"p1": profile()}, {}, catalog(message()), T0).decisions
    assert (d.ab_test_id, d.ab_test_cell, d.goal) == (None, None, None)


def test_only_held_out_or_tested_messages_are_measured() -> None:
    unmeasured = message(goal=GOAL)
    [d] = decide(event(), {"p1": profile()}, {}, catalog(unmeasured), T0).decisions
    assert d.goal is None  # no exposure: nothing to compare it with
    [d] = decide(event(), {"p1": profile()}, {}, catalog(held(0.01)), T0).decisions[:1]
    assert d.goal == GOAL


def test_goal_events_of_measured_messages_convert() -> None:
    spec = catalog(held(0.1), message("plain", goal=Goal("other.done", timedelta(days=1)), id=2))
    assert spec.goal_events == frozenset({"thing.done"})
    assert decide(event(etype="thing.done"), {}, {}, spec, T0).converts
    assert not decide(event(etype="other.done"), {}, {}, spec, T0).converts
    assert not decide(event(), {}, {}, spec, T0).converts


@settings(max_examples=80, deadline=None)
@given(
    pid=st.text("abcdefgh0123456789", min_size=1, max_size=8),
    share=st.floats(0.01, 0.5),
    opt_out_email=st.booleans(),
    mode=st.sampled_from(list(ChannelMode)),
    email=st.booleans(),
)
def test_a_holdout_only_turns_scheduled_decisions_into_held_out_ones(
    pid: str, share: float, opt_out_email: bool, mode: ChannelMode, email: bool
) -> None:
    channels = (step(0, Channel.EMAIL), step(1, Channel.PUSH))
    spec = message(goal=GOAL, channels=channels, channel_mode=mode)
    person = profile(
        pid,
        email=f"{pid}@example.com" if email else None,
        opt_out_channels=frozenset({"email"}) if opt_out_email else frozenset(),
    )
    plain = decide(event(pid=pid), {pid: person}, {}, catalog(spec), T0).decisions
    held = decide(event(pid=pid), {pid: person}, {}, catalog(replace(spec, holdout=share)), T0)
    out = is_held_out(spec.name, pid, share)
    assert len(plain) == len(held.decisions)
    for a, b in zip(plain, held.decisions, strict=True):
        assert (a.guid, a.channel, a.created_at) == (b.guid, b.channel, b.created_at)
        if out and a.status is Status.SCHEDULED:
            assert (b.status, b.reason, b.due_at) == (Status.SUPPRESSED, reasons.HELD_OUT, None)
        else:
            assert (a.status, a.reason, a.due_at) == (b.status, b.reason, b.due_at)


def test_a_held_out_message_counts_against_its_caps_and_dedup_like_a_send() -> None:
    spec = replace(
        held(0.5), caps=(Cap("once", 1, timedelta(days=1)),), dedup=Dedup(("k",), timedelta(days=3))
    )
    out_id = next(p for p in IDS if is_held_out(spec.name, p, 0.5))
    person = {out_id: profile(out_id)}
    first = decide(event("e1", pid=out_id, payload={"k": 1}), person, {}, catalog(spec), T0)
    assert first.decisions[0].reason == reasons.HELD_OUT
    past = [
        PastMessage(
            d.guid,
            d.message,
            d.channel,
            d.status,
            d.created_at,
            "promo:1",
            (),
            d.event_id,
            held_out=True,
        )
        for d in first.decisions
    ]
    later = T0 + timedelta(hours=1)
    again = decide(
        event("e2", pid=out_id, payload={"k": 1}, at=later),
        person,
        {out_id: past},
        catalog(spec),
        later,
    )
    assert {d.reason for d in again.decisions} == {reasons.DUPLICATE}
    other = decide(
        event("e3", pid=out_id, payload={"k": 2}, at=later),
        person,
        {out_id: past},
        catalog(spec),
        later,
    )
    assert {d.reason for d in other.decisions} == {"frequency_capped:once"}
    # An ordinary suppression (not a held-out send) counts for neither.
    plain = [replace(p, held_out=False) for p in past]
    fresh = decide(
        event("e4", pid=out_id, payload={"k": 1}, at=later),
        person,
        {out_id: plain},
        catalog(spec),
        later,
    )
    assert {d.reason for d in fresh.decisions} == {reasons.HELD_OUT}
