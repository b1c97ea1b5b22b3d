from __future__ import annotations

from dataclasses import replace

from clarion.core.decide import decide
from clarion.core.ids import message_guid
from clarion.core.model import Channel, PastMessage, Status
from clarion.core.predicate import Compiler
from clarion.core.segment import SEGMENTS
from clarion.core.spec import Dedup, Goal, Policy
from tests.unit.core_fixtures import (
    T0,
    Audience,
    Cap,
    ChannelMode,
    LocalWindow,
    Timing,
    catalog,
    event,
    message,
    profile,
    step,
    time,
    timedelta,
)


def test_matching_event_schedules_every_channel_with_deterministic_ids() -> None:
    spec = message(channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL), step(2, Channel.SMS)))
    out = decide(event(), {"p1": profile()}, {}, catalog(spec), T0)
    assert [d.channel for d in out.decisions] == [Channel.PUSH, Channel.EMAIL, Channel.SMS]
    assert all(d.status is Status.SCHEDULED and d.due_at == T0 for d in out.decisions)
    assert out.decisions[1].guid == message_guid("e1", "promo", 1, "p1")
    assert out.decisions[0].devices == ("d1",)


def test_other_event_types_and_failed_conditions_create_nothing() -> None:
    spec = message(condition=Compiler().compile({"amount": {"gt": 10}}))
    cat = catalog(spec)
    assert decide(event(etype="other"), {}, {}, cat, T0).decisions == ()
    assert decide(event(payload={"amount": 5}), {}, {}, cat, T0).decisions == ()
    assert len(decide(event(payload={"amount": 50}), {}, {}, cat, T0).decisions) == 1


def test_suppression_reasons_are_recorded_per_step() -> None:
    spec = message(channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL), step(2, Channel.SMS)))
    p = profile(devices=(), email=None, opt_out_channels=frozenset({"sms"}))
    out = decide(event(), {"p1": p}, {}, catalog(spec), T0)
    assert [(d.status, d.reason) for d in out.decisions] == [
        (Status.SUPPRESSED, "no_eligible_device"),
        (Status.SUPPRESSED, "no_address"),
        (Status.SUPPRESSED, "opted_out"),
    ]


def test_segment_and_category_opt_out_stop_the_whole_message() -> None:
    spec = message(segment=SEGMENTS.compile({"attributes.plan": "premium"}))
    out = decide(event(), {"p1": profile(attributes={"plan": "basic"})}, {}, catalog(spec), T0)
    assert out.decisions[0].reason == "not_in_segment"
    opted = profile(attributes={"plan": "premium"}, opt_out_categories=frozenset({"engagement"}))
    assert decide(event(), {"p1": opted}, {}, catalog(spec), T0).decisions[0].reason == "opted_out"


def test_channel_mode_first_stops_at_the_first_eligible_channel() -> None:
    spec = message(
        channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL), step(2, Channel.SMS)),
        channel_mode=ChannelMode.FIRST,
    )
    out = decide(event(), {"p1": profile(devices=())}, {}, catalog(spec), T0)
    assert [(d.channel, d.status) for d in out.decisions] == [
        (Channel.PUSH, Status.SUPPRESSED),
        (Channel.EMAIL, Status.SCHEDULED),
    ]


def test_message_cap_counts_history_and_transactional_bypasses_it() -> None:
    capped = message(caps=(Cap("weekly", 1, timedelta(days=7)),))
    past = [PastMessage("G", "promo", Channel.PUSH, Status.SENT, T0 - timedelta(days=1))]
    out = decide(event(), {"p1": profile()}, {"p1": past}, catalog(capped), T0)
    assert out.decisions[0].reason == "frequency_capped:weekly"
    account = replace(capped, category="account")
    out = decide(event(), {"p1": profile()}, {"p1": past}, catalog(account), T0)
    assert out.decisions[0].status is Status.SCHEDULED


def test_global_cap_spans_channels_within_one_event() -> None:
    spec = message(channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL), step(2, Channel.SMS)))
    policy = Policy(global_caps=(Cap("global", 2, timedelta(days=1)),))
    out = decide(event(), {"p1": profile()}, {}, catalog(spec, policy=policy), T0)
    assert [d.status for d in out.decisions] == [
        Status.SCHEDULED,
        Status.SCHEDULED,
        Status.SUPPRESSED,
    ]
    assert out.decisions[2].reason == "frequency_capped:global"


def test_dedup_suppresses_a_repeat_key_within_its_window() -> None:
    spec = message(dedup=Dedup(("show_id",), timedelta(days=30)))
    cat = catalog(spec)
    first = decide(event(payload={"show_id": "s1"}), {"p1": profile()}, {}, cat, T0)
    d = first.decisions[0]
    past = [PastMessage(d.guid, "promo", Channel.PUSH, Status.SENT, T0, d.dedup_key)]
    later = T0 + timedelta(days=1)
    again = decide(
        event("e2", payload={"show_id": "s1"}), {"p1": profile()}, {"p1": past}, cat, later
    )
    assert again.decisions[0].reason == "duplicate"
    other = decide(
        event("e3", payload={"show_id": "s2"}), {"p1": profile()}, {"p1": past}, cat, later
    )
    assert other.decisions[0].status is Status.SCHEDULED


def test_delay_window_and_expiry() -> None:
    window = LocalWindow(time(9), time(21))
    spec = message(timing=Timing(delay=timedelta(hours=12), window=window))
    # Noon UTC + 12 h = midnight UTC = 21:00 in Sao Paulo (UTC-3): outside 09-21, so next day 09:00.
    p = profile(timezone="America/Sao_Paulo")
    d = decide(event(), {"p1": p}, {}, catalog(spec), T0).decisions[0]
    assert d.status is Status.SCHEDULED and d.reason == "outside_window"
    assert d.due_at == T0 + timedelta(hours=12 + 12)
    expiring = message(
        timing=Timing(delay=timedelta(hours=12), window=window, expires_after=timedelta(hours=13))
    )
    d = decide(event(), {"p1": p}, {}, catalog(expiring), T0).decisions[0]
    assert (d.status, d.reason) == (Status.EXPIRED, "expired")


def test_catalog_quiet_hours_apply_except_to_transactional_messages() -> None:
    quiet = LocalWindow(time(22), time(8))
    cat_policy = Policy(quiet_hours=quiet)
    late = T0 + timedelta(hours=11)  # 23:00 UTC
    promo = decide(
        event(at=late), {"p1": profile()}, {}, catalog(message(), policy=cat_policy), late
    )
    assert promo.decisions[0].due_at == late + timedelta(hours=9)
    account = message(category="account")
    urgent = decide(
        event(at=late), {"p1": profile()}, {}, catalog(account, policy=cat_policy), late
    )
    assert urgent.decisions[0].due_at == late


def test_cancel_on_and_goal_events_cancel_pending_messages() -> None:
    spec = message(
        timing=Timing(cancel_on=("signup.completed",)), goal=Goal("paid", timedelta(days=7))
    )
    d = decide(event(), {"p1": profile()}, {}, catalog(spec), T0).decisions[0]
    assert d.cancel_on == ("signup.completed", "paid")
    pending = PastMessage(d.guid, "promo", Channel.PUSH, Status.SCHEDULED, T0, None, d.cancel_on)
    sent = replace(pending, guid="OTHER", status=Status.SENT)
    out = decide(
        event("e2", etype="paid"), {"p1": profile()}, {"p1": [pending, sent]}, catalog(spec), T0
    )
    assert [(c.guid, c.reason) for c in out.cancellations] == [(d.guid, "cancelled:paid")]


def test_account_audience_reaches_every_profile_of_the_account() -> None:
    spec = message(audience=Audience.ACCOUNT)
    profiles = {
        "p1": profile("p1", account_id="a1"),
        "p2": profile("p2", account_id="a1"),
        "p3": profile("p3", account_id="a2"),
    }
    out = decide(event(account_id="a1"), profiles, {}, catalog(spec), T0)
    assert sorted(d.profile_id for d in out.decisions) == ["p1", "p2"]


def test_unknown_profile_has_no_address() -> None:
    out = decide(event(pid="ghost"), {}, {}, catalog(message()), T0)
    assert out.decisions[0].reason == "no_eligible_device"


def test_a_segment_can_compare_the_profile_with_the_event() -> None:
    spec = message(
        segment=SEGMENTS.compile({"attributes.watchlist": {"contains": {"event": "show"}}})
    )
    fan = profile(attributes={"watchlist": ["dark", "ozark"]})
    hit = decide(event(payload={"show": "dark"}), {"p1": fan}, {}, catalog(spec), T0)
    miss = decide(event(payload={"show": "lost"}), {"p1": fan}, {}, catalog(spec), T0)
    absent = decide(event(), {"p1": fan}, {}, catalog(spec), T0)
    assert hit.decisions[0].status is Status.SCHEDULED
    assert miss.decisions[0].reason == absent.decisions[0].reason == "not_in_segment"


def test_a_message_cap_counts_occurrences_not_channels() -> None:
    spec = message(
        caps=(Cap("twice", 2, timedelta(days=1)),),
        channels=(step(0, Channel.PUSH), step(1, Channel.EMAIL)),
    )
    history: list[PastMessage] = []
    statuses = []
    for i in range(3):
        out = decide(event(f"e{i}"), {"p1": profile()}, {"p1": history}, catalog(spec), T0)
        statuses.append([d.status for d in out.decisions])
        history += [
            PastMessage(d.guid, d.message, d.channel, d.status, T0, event_id=d.event_id)
            for d in out.decisions
        ]
    assert statuses == [[Status.SCHEDULED] * 2, [Status.SCHEDULED] * 2, [Status.SUPPRESSED] * 2]


def test_a_goal_event_resolves_live_in_app_messages() -> None:
    spec = message(
        channels=(step(0, Channel.INAPP), step(1, Channel.PUSH)),
        goal=Goal("phone.added", timedelta(days=30)),
    )
    made = decide(event(), {"p1": profile()}, {}, catalog(spec), T0).decisions
    past = [
        PastMessage(
            made[0].guid, "promo", Channel.INAPP, Status.DELIVERED, T0, None, ("phone.added",)
        ),
        PastMessage(made[1].guid, "promo", Channel.PUSH, Status.SENT, T0, None, ("phone.added",)),
    ]
    out = decide(
        event("e2", etype="phone.added"), {"p1": profile()}, {"p1": past}, catalog(spec), T0
    )
    assert [(c.guid, c.status, c.reason) for c in out.cancellations] == [
        (made[0].guid, Status.RESOLVED, "resolved:phone.added")
    ]
