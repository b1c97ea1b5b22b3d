"""One event, several messages (several catalog messages on its type, channel steps,
an account's profiles): each message's caps count the messages the event already
scheduled for the same profile, in catalog order, so one event cannot overrun the
one fatigue budget that a profile's history alone would have stopped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from clarion.core import reasons
from clarion.core.decide import decide
from clarion.core.decision import Decision
from clarion.core.model import Channel, PastMessage, Status
from clarion.core.spec import Audience, Cap, Dedup, Policy, Timing
from tests.unit.core_fixtures import T0, catalog, event, message, profile, step

DAY = timedelta(days=1)


def _pushes(n: int) -> list[PastMessage]:
    """``n`` pushes sent to p1 over the last hours, by other events."""
    return [
        PastMessage(f"old{i}", "other", Channel.PUSH, Status.SENT, T0 - timedelta(hours=i + 1))
        for i in range(n)
    ]


def _fates(decisions: Iterable[Decision]) -> list[tuple[str, str, Status, str | None]]:
    return [(d.profile_id, d.message, d.status, d.reason) for d in decisions]


def test_a_global_cap_counts_the_pushes_this_event_already_scheduled() -> None:
    # Three messages on one event type, a push each; 3 pushes already out of 4 a day.
    specs = [message(name, id=i) for i, name in enumerate(["a", "b", "c"], 1)]
    cat = catalog(*specs, policy=Policy(global_caps=(Cap("g", 4, DAY),)))
    out = decide(event(), {"p1": profile()}, {"p1": _pushes(3)}, cat, T0)
    assert _fates(out.decisions) == [
        ("p1", "a", Status.SCHEDULED, None),
        ("p1", "b", Status.SUPPRESSED, reasons.capped("g")),
        ("p1", "c", Status.SUPPRESSED, reasons.capped("g")),
    ]


def test_a_channel_cap_counts_the_event_s_earlier_messages_and_steps() -> None:
    # push 2/day: "a" takes one push, "b" the second, "c" none; its email still goes.
    both = (step(0, Channel.PUSH), step(1, Channel.EMAIL))
    specs = [message(name, id=i, channels=both) for i, name in enumerate(["a", "b", "c"], 1)]
    policy = Policy(channel_caps={Channel.PUSH: (Cap("push", 2, DAY),)})
    out = decide(event(), {"p1": profile()}, {}, catalog(*specs, policy=policy), T0)
    assert [(d.message, d.channel, d.status) for d in out.decisions] == [
        ("a", Channel.PUSH, Status.SCHEDULED),
        ("a", Channel.EMAIL, Status.SCHEDULED),
        ("b", Channel.PUSH, Status.SCHEDULED),
        ("b", Channel.EMAIL, Status.SCHEDULED),
        ("c", Channel.PUSH, Status.SUPPRESSED),
        ("c", Channel.EMAIL, Status.SCHEDULED),
    ]


def test_the_first_message_in_catalog_order_gets_the_budget() -> None:
    # Catalog order is by id, whatever order the messages were declared in.
    late, early = message("late", id=9), message("early", id=2)
    cat = catalog(late, early, policy=Policy(global_caps=(Cap("g", 1, DAY),)))
    out = decide(event(), {"p1": profile()}, {}, cat, T0)
    assert _fates(out.decisions) == [
        ("p1", "early", Status.SCHEDULED, None),
        ("p1", "late", Status.SUPPRESSED, reasons.capped("g")),
    ]


def test_each_profile_of_an_account_spends_its_own_budget() -> None:
    specs = [message(n, id=i, audience=Audience.ACCOUNT) for i, n in enumerate(["a", "b"], 1)]
    cat = catalog(*specs, policy=Policy(global_caps=(Cap("g", 1, DAY),)))
    profiles = {pid: profile(pid, account_id="acc") for pid in ("p1", "p2")}
    out = decide(event(account_id="acc"), profiles, {"p2": _pushes(1)}, cat, T0)
    assert _fates(out.decisions) == [
        ("p1", "a", Status.SCHEDULED, None),
        ("p2", "a", Status.SUPPRESSED, reasons.capped("g")),
        ("p1", "b", Status.SUPPRESSED, reasons.capped("g")),
        ("p2", "b", Status.SUPPRESSED, reasons.capped("g")),
    ]


def test_a_held_out_message_spends_no_channel_or_global_budget() -> None:
    # A held-out message is never sent: as in a profile's history, it counts against
    # its own message's caps and dedup only.
    held = message("held", id=1, holdout=1.0)
    cat = catalog(held, message("next", id=2), policy=Policy(global_caps=(Cap("g", 1, DAY),)))
    out = decide(event(), {"p1": profile()}, {}, cat, T0)
    assert _fates(out.decisions) == [
        ("p1", "held", Status.SUPPRESSED, reasons.HELD_OUT),
        ("p1", "next", Status.SCHEDULED, None),
    ]


def test_a_transactional_message_of_the_event_counts_as_it_would_from_history() -> None:
    # It bypasses caps, but once out it counts against later messages' caps (the
    # history of the next event holds it): the event's later messages see it too.
    account = message("receipt", id=1, category="account")
    cat = catalog(account, message("promo", id=2), policy=Policy(global_caps=(Cap("g", 1, DAY),)))
    out = decide(event(), {"p1": profile()}, {}, cat, T0)
    assert _fates(out.decisions) == [
        ("p1", "receipt", Status.SCHEDULED, None),
        ("p1", "promo", Status.SUPPRESSED, reasons.capped("g")),
    ]
    receipt = out.decisions[0]
    sent = PastMessage(receipt.guid, "receipt", Channel.PUSH, Status.SENT, T0, event_id="e1")
    later = decide(event("e2"), {"p1": profile()}, {"p1": [sent]}, cat, T0)
    assert _fates(later.decisions)[1] == ("p1", "promo", Status.SUPPRESSED, reasons.capped("g"))


def test_a_delayed_message_of_the_event_counts_at_its_due_time() -> None:
    # "a" goes out in two days: it does not spend today's budget, so "b" (now) still
    # goes; "c", also in two days, finds that day's budget spent by "a".
    later = message("a", id=1, timing=_delay(timedelta(days=2)))
    also_later = message("c", id=3, timing=_delay(timedelta(days=2)))
    cat = catalog(later, message("b", id=2), also_later, policy=_global(1))
    out = decide(event(), {"p1": profile()}, {}, cat, T0)
    assert [(d.message, d.status) for d in out.decisions] == [
        ("a", Status.SCHEDULED),
        ("b", Status.SCHEDULED),
        ("c", Status.SUPPRESSED),
    ]


def test_message_caps_and_dedup_are_unchanged_by_other_messages() -> None:
    # Each message's own cap and dedup key are its own: the event's other messages
    # neither spend nor share them.
    capped = (Cap("own", 1, DAY),)
    dedup = Dedup(("k",), DAY)
    specs = [message(n, id=i, caps=capped, dedup=dedup) for i, n in enumerate(["a", "b"], 1)]
    out = decide(event(payload={"k": "x"}), {"p1": profile()}, {}, catalog(*specs), T0)
    assert [d.status for d in out.decisions] == [Status.SCHEDULED, Status.SCHEDULED]


def test_decide_does_not_change_the_history_it_is_given() -> None:
    # The orchestrator folds each outcome into its batch's history once (_remember);
    # decide() must not fold it a second time into the caller's lists.
    history = {"p1": _pushes(1)}
    specs = [message(name, id=i) for i, name in enumerate(["a", "b"], 1)]
    decide(event(), {"p1": profile()}, history, catalog(*specs), T0)
    assert history == {"p1": _pushes(1)}


def _delay(delay: timedelta) -> Timing:
    return Timing(delay=delay)


def _global(limit: int) -> Policy:
    return Policy(global_caps=(Cap("g", limit, DAY),))
