"""Properties of decide(): caps are never exceeded, nothing is due outside its window,
and the same inputs give the same decisions."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clarion.core.decide import decide
from clarion.core.model import Channel, PastMessage, Status
from clarion.core.spec import Policy
from clarion.core.timing import in_window, zone
from tests.unit.core_fixtures import (
    T0,
    Cap,
    LocalWindow,
    Timing,
    catalog,
    event,
    message,
    profile,
    step,
    time,
)

ZONES = st.sampled_from(
    [
        "UTC",
        "America/Sao_Paulo",
        "Europe/Lisbon",
        "Asia/Kolkata",
        "Pacific/Auckland",
        "America/New_York",
    ]
)
WALL = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
WINDOWS = st.builds(LocalWindow, WALL, WALL, st.frozensets(st.integers(1, 7), min_size=1))


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 6 * 3600), min_size=1, max_size=40),
    limit=st.integers(1, 4),
    hours=st.integers(1, 72),
    global_limit=st.integers(1, 6),
)
def test_caps_are_never_exceeded(
    gaps: list[int], limit: int, hours: int, global_limit: int
) -> None:
    window = timedelta(hours=hours)
    spec = message(
        caps=(Cap("m", limit, window),),
        channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL)),
    )
    cat = catalog(spec, policy=Policy(global_caps=(Cap("g", global_limit, timedelta(days=1)),)))
    history: list[PastMessage] = []
    now = T0
    for i, gap in enumerate(gaps):
        now += timedelta(seconds=gap)
        out = decide(event(f"e{i}", at=now), {"p1": profile()}, {"p1": history}, cat, now)
        history += [
            PastMessage(d.guid, d.message, d.channel, d.status, d.created_at, event_id=d.event_id)
            for d in out.decisions
            if d.status is Status.SCHEDULED
        ]
    for anchor in history:
        per_message = [
            m for m in history if anchor.created_at - window < m.created_at <= anchor.created_at
        ]
        # A message cap counts messages: one per decision, but every channel step of it.
        assert len({m.event_id for m in per_message}) <= limit
        day = [
            m
            for m in history
            if anchor.created_at - timedelta(days=1) < m.created_at <= anchor.created_at
        ]
        assert len(day) <= global_limit


@settings(max_examples=200, deadline=None)
@given(
    tz=ZONES,
    window=WINDOWS,
    quiet=st.none() | WINDOWS,
    offset=st.integers(0, 14 * 24 * 3600),
    delay=st.integers(0, 3 * 24 * 3600),
)
def test_nothing_is_due_outside_its_window(
    tz: str, window: LocalWindow, quiet: LocalWindow | None, offset: int, delay: int
) -> None:
    at = T0 + timedelta(seconds=offset)
    spec = message(timing=Timing(delay=timedelta(seconds=delay), window=window, quiet_hours=quiet))
    d = decide(event(at=at), {"p1": profile(timezone=tz)}, {}, catalog(spec), at).decisions[0]
    if d.status is Status.SCHEDULED:
        assert d.due_at is not None and d.due_at >= at + timedelta(seconds=delay)
        local = d.due_at.astimezone(zone(tz))
        assert in_window(local, window)
        assert quiet is None or not in_window(local, quiet)
    else:
        assert d.reason == "expired"  # only when no allowed instant exists within a week


@settings(max_examples=50, deadline=None)
@given(offset=st.integers(0, 10**6), plan=st.sampled_from(["basic", "premium"]), tz=ZONES)
def test_same_inputs_give_the_same_decisions(offset: int, plan: str, tz: str) -> None:
    spec = message(
        caps=(Cap("m", 2, timedelta(days=1)),),
        channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL)),
        timing=Timing(window=LocalWindow(time(9), time(20))),
    )
    at = T0 + timedelta(seconds=offset)
    no_history: dict[str, list[PastMessage]] = {}
    args = (
        event(at=at),
        {"p1": profile(timezone=tz, attributes={"plan": plan})},
        no_history,
        catalog(spec),
        at,
    )
    assert decide(*args) == decide(*args)
