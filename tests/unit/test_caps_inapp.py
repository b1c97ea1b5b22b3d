"""In-app messages and the fatigue budget: an in-app message counts against caps from
its first impression, not from its creation (DESIGN.md section 3)."""

from __future__ import annotations

from clarion.core.caps import counted_at
from clarion.core.decide import decide
from clarion.core.model import Channel, PastMessage, Status
from clarion.core.spec import Policy
from tests.unit.core_fixtures import T0, Cap, catalog, event, message, profile, step, timedelta

GLOBAL = Policy(global_caps=(Cap("global:6/1d", 6, timedelta(days=1)),))
PUSH = message(channels=(step(0, Channel.PUSH),))


RECENTLY = timedelta(hours=3)


def alerts(seen: list[bool], created: timedelta = RECENTLY) -> list[PastMessage]:
    """Six in-app alerts created ``created`` ago, each first shown an hour ago when seen."""
    return [
        PastMessage(
            f"G{i}",
            "alert",
            Channel.INAPP,
            Status.DELIVERED if shown else Status.SENT,
            T0 - created,
            first_seen_at=T0 - timedelta(hours=1) if shown else None,
        )
        for i, shown in enumerate(seen)
    ]


def push_reason(past: list[PastMessage]) -> str | None:
    out = decide(event(), {"p1": profile()}, {"p1": past}, catalog(PUSH, policy=GLOBAL), T0)
    [push] = out.decisions
    return push.reason


def test_six_unseen_alerts_do_not_block_a_push() -> None:
    assert push_reason(alerts([False] * 6)) is None


def test_six_shown_alerts_do_block_a_push() -> None:
    assert push_reason(alerts([True] * 6)) == "frequency_capped:global:6/1d"
    assert push_reason(alerts([True] * 5 + [False])) is None


def test_an_alert_counts_from_its_first_impression_not_its_creation() -> None:
    # Created three days ago, first shown an hour ago: inside today's window.
    assert push_reason(alerts([True] * 6, created=timedelta(days=3))) == (
        "frequency_capped:global:6/1d"
    )
    [old] = alerts([True], created=timedelta(days=3))
    assert counted_at(old) == T0 - timedelta(hours=1)
    [unseen] = alerts([False])
    assert counted_at(unseen) is None


def test_other_channels_and_held_out_alerts_count_from_creation() -> None:
    sent = PastMessage("P", "promo", Channel.PUSH, Status.SENT, T0 - timedelta(hours=2))
    assert counted_at(sent) == sent.created_at
    held = PastMessage(
        "H", "alert", Channel.INAPP, Status.SUPPRESSED, T0 - timedelta(hours=2), held_out=True
    )
    # A held-out alert is never shown: it counts as the send it replaced would have.
    assert counted_at(held) == held.created_at
