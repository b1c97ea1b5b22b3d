"""Caps count a message when it is due (sent), not when it was decided: a message
delayed 24 hours counts on the day it goes out."""

from __future__ import annotations

from datetime import datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clarion.core.caps import first_exceeded
from clarion.core.decide import decide
from clarion.core.model import Channel, PastMessage, Status
from clarion.core.spec import Cap, Policy
from tests.unit.core_fixtures import (
    T0,
    Timing,
    catalog,
    event,
    message,
    profile,
    step,
    timedelta,
)

DAY = timedelta(days=1)
NOW = timedelta(0)
DAILY = Policy(global_caps=(Cap("daily", 1, DAY),))


def past(created: timedelta, due: timedelta | None, status: Status = Status.SENT) -> PastMessage:
    due_at = T0 + due if due is not None else None
    return PastMessage(
        "g-old", "other", Channel.PUSH, status, T0 + created, event_id="e0", due_at=due_at
    )


def reason(history: list[PastMessage], delay: timedelta = NOW) -> str | None:
    spec = message(timing=Timing(delay=delay))
    out = decide(event(), {"p1": profile()}, {"p1": history}, catalog(spec, policy=DAILY), T0)
    return out.decisions[0].reason


def test_a_delayed_message_counts_on_the_day_it_is_sent() -> None:
    # Decided 25 hours ago with a 24-hour delay: sent an hour ago, so the budget is spent.
    assert reason([past(-timedelta(hours=25), -timedelta(hours=1))]) == "frequency_capped:daily"


def test_a_message_decided_today_but_due_in_two_days_leaves_today_free() -> None:
    assert reason([past(-timedelta(hours=1), 2 * DAY, Status.SCHEDULED)]) is None


def test_a_message_due_later_counts_against_one_sent_within_a_window_of_it() -> None:
    # Due in 20 hours: sending now would put two within one day.
    assert reason([past(-timedelta(hours=1), timedelta(hours=20), Status.SCHEDULED)]) == (
        "frequency_capped:daily"
    )


def test_the_new_message_is_counted_at_its_own_due_time() -> None:
    # Sent an hour ago; this one waits two days, so it does not share a window with it.
    assert reason([past(-timedelta(hours=1), -timedelta(hours=1))], delay=2 * DAY) is None
    assert reason([past(-timedelta(hours=1), -timedelta(hours=1))]) == "frequency_capped:daily"


def test_a_message_without_a_due_time_counts_when_it_was_created() -> None:
    held_or_old = past(-timedelta(hours=2), None)
    assert reason([held_or_old]) == "frequency_capped:daily"


def test_later_channels_of_the_same_delayed_message_count_at_its_due_time() -> None:
    # Delayed two days after a send an hour ago: the first channel goes (two days
    # apart), the second is capped by the first, counted at their shared due time.
    spec = message(
        channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL)), timing=Timing(delay=2 * DAY)
    )
    history = [past(-timedelta(hours=1), -timedelta(hours=1))]
    out = decide(event(), {"p1": profile()}, {"p1": history}, catalog(spec, policy=DAILY), T0)
    assert [d.reason for d in out.decisions] == [None, "frequency_capped:daily"]


def _busiest(times: list[datetime], window: timedelta) -> int:
    """Brute force: the most times in one window ``(end - window, end]``; the busiest
    window ends at one of the times."""
    return max((sum(1 for t in times if end - window < t <= end) for end in times), default=0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=-72, max_value=72), max_size=8),
    st.integers(min_value=-24, max_value=72),
    st.integers(min_value=1, max_value=3),
)
def test_a_cap_allows_exactly_the_sends_that_keep_every_window_within_it(
    hours: list[int], due: int, limit: int
) -> None:
    window = DAY
    times = [T0 + timedelta(hours=h) for h in hours]
    assume(_busiest(times, window) <= limit)  # the history kept the cap
    history = [
        PastMessage(f"g{i}", "m", Channel.PUSH, Status.SCHEDULED, T0, event_id=f"e{i}", due_at=t)
        for i, t in enumerate(times)
    ]
    at = T0 + timedelta(hours=due)
    cap = Cap("c", limit, window)

    allowed = first_exceeded(history, at, (cap,), lambda m: True) is None

    assert allowed == (_busiest([*times, at], window) <= limit)
