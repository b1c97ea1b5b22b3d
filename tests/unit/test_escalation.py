"""The escalation ladder: its catalog form, and the pure rules that start and move it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clarion.catalog import check_catalog, load_catalog
from clarion.core.decide import decide
from clarion.core.escalation import OpenRung, ladder_entries, move
from clarion.core.ids import message_guid
from clarion.core.model import Channel, Device, Event, PastMessage, Profile, Status
from clarion.core.spec import Cap, MessageSpec, Policy, Rung
from tests.unit.core_fixtures import T0, catalog, message, step
from tests.unit.test_catalog_errors import write

EXAMPLE = Path(__file__).parents[2] / "catalog"
LADDER = (Rung(1, timedelta(minutes=10)), Rung(2, timedelta(minutes=30)), Rung(3))


def spec(**kw: object) -> MessageSpec:
    fields: dict[str, object] = {
        "category": "account",
        "channels": (
            step(0, Channel.EMAIL),
            step(1, Channel.PUSH),
            step(2, Channel.SMS),
            step(3, Channel.VOICE),
        ),
        "escalation": LADDER,
        "goal": None,
    }
    fields.update(kw)
    return message("ladder", "card.declined", **fields)


ANA = Profile(
    id="ana",
    email="ana@example.com",
    phone="+5511912345678",
    country="BR",
    devices=(Device("d1", "ios", push_token="t"),),
)
EVENT = Event("e1", "card.declined", "ana", T0)


def guid(step_index: int) -> str:
    return message_guid("e1", "ladder", step_index, "ana")


# The catalog form


def test_the_example_password_reset_ladder() -> None:
    reset = load_catalog(EXAMPLE).spec.messages["password_reset"]
    assert reset.escalation == (Rung(0, timedelta(minutes=5)), Rung(1))
    assert reset.rungs == {0: 0, 1: 1}


LADDER_MESSAGE = """\
name: ok
id: 1
category: account
trigger: {{event: payment.failed}}
channel_mode: {mode}
channels:
  - channel: push
    content: {{title: greeting.title}}
  - channel: sms
    content: {{body: greeting.title}}
  - channel: sms
    content: {{body: greeting.title}}
escalation: {ladder}
"""


@pytest.mark.parametrize(
    ("ladder", "key", "problem"),
    [
        ("[{channel: push}]", "escalation", "two or more rungs"),
        ("[{channel: email, timeout: 5m}, {channel: push}]", "escalation[0].channel", "no email"),
        ("[{channel: push, timeout: 5m}, {channel: sms}]", "escalation[1].channel", "has 2 sms"),
        ("[{channel: push}, {channel: voice}]", "escalation[0].timeout", "missing required"),
        ("[{channel: fax, timeout: 5m}, {channel: push}]", "escalation[0].channel", "fax"),
        ("[{channel: push, timeout: 5m}, {channel: push}]", "escalation[1].channel", "already"),
        ("[{channel: push, timeout: soon}, {channel: push}]", "escalation[0].timeout", "duration"),
        (
            "[{channel: push, timeout: 5m}, {channel: sms, timeout: 5m}]",
            "escalation[1].timeout",
            "last rung",
        ),
        ("[{channel: push, timeout: 5m, when: x}, {channel: push}]", "escalation[0].when", ""),
    ],
)
def test_ladder_errors_name_the_file_and_key(
    tmp_path: Path, ladder: str, key: str, problem: str
) -> None:
    text = LADDER_MESSAGE.format(mode="all", ladder=ladder)
    issues = check_catalog(write(tmp_path, {"messages/ok.yaml": text}))
    assert any(i.file == "messages/ok.yaml" and i.key == key for i in issues), issues
    assert any(problem in i.problem for i in issues if i.key == key), issues


def test_a_ladder_needs_channel_mode_all(tmp_path: Path) -> None:
    text = LADDER_MESSAGE.format(mode="first", ladder="[{channel: push, timeout: 5m}]")
    [issue] = check_catalog(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.key, issue.problem) == (
        "escalation",
        "a ladder needs channel_mode: all (the default)",
    )


# decide() starts the ladder


def test_decide_schedules_the_first_rung_and_leaves_the_rest_to_escalation() -> None:
    outcome = decide(EVENT, {"ana": ANA}, {}, catalog(spec()), T0)
    by_step = {d.step: d for d in outcome.decisions}
    assert sorted(by_step) == [0, 1]  # email (off the ladder) and push, the first rung
    push = by_step[1]
    assert push.status is Status.SCHEDULED
    assert (push.ladder, push.rung, push.escalated_from) == (guid(1), 0, None)
    assert push.confirm_by == T0 + timedelta(minutes=10)
    assert push.country == "BR"
    assert by_step[0].ladder is None and by_step[0].confirm_by is None


def test_decide_skips_rungs_the_profile_cannot_take() -> None:
    no_push = Profile(id="ana", phone="+1555", opt_out_channels=frozenset({"sms"}))
    outcome = decide(EVENT, {"ana": no_push}, {}, catalog(spec()), T0)
    rungs = [(d.channel, d.status, d.reason, d.escalated_from) for d in outcome.decisions[1:]]
    assert rungs == [
        (Channel.PUSH, Status.SUPPRESSED, "no_eligible_device", None),
        (Channel.SMS, Status.SUPPRESSED, "opted_out", guid(1)),
        (Channel.VOICE, Status.SCHEDULED, None, guid(2)),
    ]
    assert outcome.decisions[-1].confirm_by is None  # the last rung waits for nothing


def test_a_held_out_profile_never_starts_a_ladder() -> None:
    held = spec(holdout=1.0)  # every profile held out
    outcome = decide(EVENT, {"ana": ANA}, {}, catalog(held), T0)
    push = outcome.decisions[1]
    assert (push.step, push.status, push.reason) == (1, Status.SUPPRESSED, "held_out")
    # No confirmation deadline: the escalation worker never reads it as an open rung.
    assert all(d.confirm_by is None for d in outcome.decisions)


def test_a_goal_event_stops_a_ladder_whose_rung_is_already_out() -> None:
    out = PastMessage(guid(1), "ladder", Channel.PUSH, Status.SENT, T0, None, ("paid",), "e1", True)
    done = PastMessage(guid(0), "ladder", Channel.EMAIL, Status.SENT, T0, None, ("paid",), "e1")
    paid = Event("e2", "paid", "ana", T0)
    outcome = decide(paid, {"ana": ANA}, {"ana": [out, done]}, catalog(spec()), T0)
    [stop] = outcome.cancellations
    assert (stop.guid, stop.reason, stop.status) == (
        guid(1),
        "escalation_stopped:paid",
        Status.SENT,
    )


# move(): the escalation worker's rules


def rung(
    status: Status, number: int = 0, confirm_by: timedelta = timedelta(minutes=10)
) -> OpenRung:
    channel = [Channel.PUSH, Channel.SMS, Channel.VOICE][number]
    return OpenRung(
        guid(number + 1), EVENT, "ana", "ladder", channel, number, status, T0 + confirm_by
    )


def test_a_delivered_rung_closes_the_ladder() -> None:
    found = move(rung(Status.DELIVERED), spec(), ANA, (), catalog(spec()), T0)
    assert found is not None
    assert (found.reason, found.decisions) == ("escalation_confirmed", ())
    assert ladder_entries(found) == [(guid(1), Status.DELIVERED, "escalation_confirmed", {})]


def test_a_failed_rung_escalates_at_once() -> None:
    found = move(rung(Status.FAILED), spec(), ANA, (), catalog(spec()), T0)
    assert found is not None and found.reason == "escalated:failed" and not found.cancel
    [sms] = found.decisions
    assert (sms.guid, sms.channel, sms.status, sms.rung) == (
        guid(2),
        Channel.SMS,
        Status.SCHEDULED,
        1,
    )
    assert (sms.due_at, sms.confirm_by) == (T0, T0 + timedelta(minutes=30))
    assert sms.escalated_from == guid(1) and sms.ladder == guid(1)


def test_an_unconfirmed_rung_waits_for_its_timeout() -> None:
    sent = rung(Status.SENT)
    assert move(sent, spec(), ANA, (), catalog(spec()), T0 + timedelta(minutes=9)) is None
    found = move(sent, spec(), ANA, (), catalog(spec()), T0 + timedelta(minutes=10))
    assert found is not None and found.reason == "escalated:timeout"
    still = move(rung(Status.SCHEDULED), spec(), ANA, (), catalog(spec()), T0 + timedelta(hours=1))
    assert still is not None and still.cancel  # never went out: cancelled, not sent late


def test_escalation_skips_channels_the_profile_left_and_records_why() -> None:
    no_sms = Profile(id="ana", phone="+1555", opt_out_channels=frozenset({"sms"}))
    found = move(rung(Status.FAILED), spec(), no_sms, (), catalog(spec()), T0)
    assert found is not None
    assert [(d.channel, d.status, d.reason) for d in found.decisions] == [
        (Channel.SMS, Status.SUPPRESSED, "opted_out"),
        (Channel.VOICE, Status.SCHEDULED, None),
    ]
    assert [(g, r, detail["to"]) for g, _, r, detail in ladder_entries(found)] == [
        (guid(1), "escalated:failed", guid(2)),
        (guid(2), "escalated:skipped", guid(3)),
    ]


def test_an_opt_out_of_the_category_stops_every_later_rung() -> None:
    gone = Profile(id="ana", phone="+1555", opt_out_categories=frozenset({"account"}))
    found = move(rung(Status.FAILED), spec(), gone, (), catalog(spec()), T0)
    assert found is not None
    assert {(d.status, d.reason) for d in found.decisions} == {(Status.SUPPRESSED, "opted_out")}


def test_an_expired_message_ends_the_ladder() -> None:
    late = OpenRung(
        guid(1),
        EVENT,
        "ana",
        "ladder",
        Channel.PUSH,
        0,
        Status.FAILED,
        T0,
        expires_at=T0 + timedelta(minutes=1),
    )
    found = move(late, spec(), ANA, (), catalog(spec()), T0 + timedelta(minutes=2))
    assert found is not None
    assert [(d.status, d.reason) for d in found.decisions] == [(Status.EXPIRED, "expired")]


def test_non_transactional_ladders_respect_channel_caps() -> None:
    capped = catalog(
        spec(category="promo"),
        policy=Policy(channel_caps={Channel.SMS: (Cap("sms", 1, timedelta(days=1)),)}),
    )
    earlier = PastMessage("X", "other", Channel.SMS, Status.SENT, T0 - timedelta(hours=1))
    found = move(rung(Status.FAILED), capped.messages["ladder"], ANA, [earlier], capped, T0)
    assert found is not None
    assert [(d.channel, d.reason) for d in found.decisions] == [
        (Channel.SMS, "frequency_capped:sms"),
        (Channel.VOICE, None),
    ]


def test_the_last_rung_or_a_removed_message_ends_the_ladder() -> None:
    found = move(rung(Status.FAILED), None, ANA, (), catalog(spec()), T0)
    assert found is not None and found.reason == "escalation_ended" and found.decisions == ()


# Properties: whatever the ladder's order and the profile's addresses and opt-outs,
# the ladder visits each rung at most once, in order, and schedules the first one
# the profile can take.

LADDER_CHANNELS = (Channel.PUSH, Channel.EMAIL, Channel.SMS, Channel.VOICE)


@settings(max_examples=80, deadline=None)
@given(
    order=st.permutations(LADDER_CHANNELS),
    has_email=st.booleans(),
    has_phone=st.booleans(),
    has_device=st.booleans(),
    opted_out=st.frozensets(st.sampled_from([c.value for c in LADDER_CHANNELS])),
)
def test_a_ladder_climbs_each_rung_once_in_order(
    order: list[Channel],
    has_email: bool,
    has_phone: bool,
    has_device: bool,
    opted_out: frozenset[str],
) -> None:
    steps = tuple(step(i, c) for i, c in enumerate(LADDER_CHANNELS))
    index = {c: i for i, c in enumerate(LADDER_CHANNELS)}
    ladder = tuple(
        Rung(index[c], None if n == len(order) - 1 else timedelta(minutes=5))
        for n, c in enumerate(order)
    )
    ladder_spec = spec(channels=steps, escalation=ladder)
    cat = catalog(ladder_spec)
    person = Profile(
        id="ana",
        email="ana@example.com" if has_email else None,
        phone="+1555" if has_phone else None,
        devices=(Device("d1", "ios", push_token="t"),) if has_device else (),
        opt_out_channels=opted_out,
    )

    def reachable(c: Channel) -> bool:
        address = {
            Channel.PUSH: has_device,
            Channel.EMAIL: has_email,
            Channel.SMS: has_phone,
            Channel.VOICE: has_phone,
        }[c]
        return address and c.value not in opted_out

    seen = list(decide(EVENT, {"ana": person}, {}, cat, T0).decisions)
    now = T0
    while seen and seen[-1].status is Status.SCHEDULED and seen[-1].rung != len(order) - 1:
        last = seen[-1]
        now += timedelta(minutes=1)
        open_rung = OpenRung(
            last.guid, EVENT, "ana", "ladder", last.channel, last.rung or 0, Status.FAILED, now
        )
        moved = move(open_rung, ladder_spec, person, (), cat, now)
        assert moved is not None and moved.reason == "escalated:failed"
        seen += moved.decisions

    # Failing every rung that goes out walks the whole ladder: each rung recorded
    # once, scheduled exactly when its channel can take the message.
    assert [d.channel for d in seen] == list(order)
    assert [d.rung for d in seen] == list(range(len(order)))
    assert len({d.guid for d in seen}) == len(order)
    for d in seen:
        assert (d.status is Status.SCHEDULED) == reachable(d.channel)


def test_later_rungs_keep_the_ladders_ab_test_and_country() -> None:
    tested = replace(rung(Status.FAILED), ab_test_id=7, ab_test_cell=1)
    found = move(tested, spec(), ANA, (), catalog(spec()), T0)
    assert found is not None
    [sms] = found.decisions
    assert (sms.ab_test_id, sms.ab_test_cell, sms.country) == (7, 1, "BR")
    assert sms.goal is None  # the ladder's exposure is its first rung's, not each rung's
