"""A cancel-on event may require payload fields to match the triggering event's:
``play.started`` of one show cancels that show's reminder, not every show's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from clarion.catalog import check_catalog, load_catalog
from clarion.core.decide import decide
from clarion.core.model import Channel, PastMessage, ScopedCancel, Status
from clarion.core.spec import Goal
from tests.unit.core_fixtures import T0, Timing, catalog, event, message, profile, timedelta
from tests.unit.test_catalog_errors import MESSAGE, write

SCOPED = message(
    trigger="play.paused",
    timing=Timing(
        delay=timedelta(hours=2),
        cancel_on=("play.started", "account.closed"),
        cancel_match={"play.started": (("show", "id"),)},
    ),
)


def pending_for(show: str) -> PastMessage:
    trigger = event(f"paused-{show}", etype="play.paused", payload={"show": {"id": show}})
    [d] = decide(trigger, {"p1": profile()}, {}, catalog(SCOPED), T0).decisions
    return PastMessage(d.guid, d.message, d.channel, d.status, T0, None, d.cancel_on)


def cancelled_by(etype: str, payload: dict[str, object], *pending: PastMessage) -> list[str]:
    source = event("e9", etype=etype, payload=payload)
    out = decide(source, {"p1": profile()}, {"p1": list(pending)}, catalog(SCOPED), T0)
    return [c.guid for c in out.cancellations]


def test_the_triggering_events_values_are_bound_at_decision_time() -> None:
    assert pending_for("dark").cancel_on == (
        ScopedCancel("play.started", (("show.id", "dark"),)),
        "account.closed",
    )


def test_a_scoped_cancel_on_cancels_only_the_matching_message() -> None:
    dark, ozark = pending_for("dark"), pending_for("ozark")

    assert cancelled_by("play.started", {"show": {"id": "dark"}}, dark, ozark) == [dark.guid]
    assert cancelled_by("play.started", {"show": {"id": "other"}}, dark, ozark) == []
    assert cancelled_by("play.started", {}, dark, ozark) == []


def test_an_unscoped_cancel_on_still_cancels_every_message() -> None:
    dark, ozark = pending_for("dark"), pending_for("ozark")

    assert cancelled_by("account.closed", {}, dark, ozark) == [dark.guid, ozark.guid]


def test_a_scope_on_the_goal_event_scopes_the_goals_cancellation_too() -> None:
    spec = replace(SCOPED, goal=Goal("play.started", timedelta(days=2)))
    trigger = event("paused", etype="play.paused", payload={"show": {"id": "dark"}})
    [d] = decide(trigger, {"p1": profile()}, {}, catalog(spec), T0).decisions
    pending = PastMessage(d.guid, d.message, d.channel, Status.SCHEDULED, T0, None, d.cancel_on)
    other = event("e9", etype="play.started", payload={"show": {"id": "ozark"}})

    assert (
        decide(other, {"p1": profile()}, {"p1": [pending]}, catalog(spec), T0).cancellations == ()
    )


def test_a_live_inapp_alert_is_resolved_only_by_its_own_show() -> None:
    alert = replace(pending_for("dark"), channel=Channel.INAPP, status=Status.SENT)

    assert cancelled_by("play.started", {"show": {"id": "ozark"}}, alert) == []
    assert cancelled_by("play.started", {"show": {"id": "dark"}}, alert) == [alert.guid]


def test_the_catalog_reads_scoped_cancel_on(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1) + (
        "timing:\n  cancel_on:\n    - {event: play.started, match: [show.id]}\n    - signup.done\n"
    )
    spec = load_catalog(write(tmp_path, {"messages/ok.yaml": text})).spec.messages["ok"]

    assert spec.timing.cancel_on == ("play.started", "signup.done")
    assert spec.timing.cancel_match == {"play.started": (("show", "id"),)}


def test_a_bad_scoped_cancel_on_names_its_file_and_key(tmp_path: Path) -> None:
    cases = {
        "{event: play.started, match: []}": ["timing.cancel_on[0].match"],
        "{event: play.started, match: [show id]}": ["timing.cancel_on[0].match[0]"],
        "{event: play.started, when: [show_id]}": [
            "timing.cancel_on[0].when",
            "timing.cancel_on[0].match",
        ],
        "{match: [show_id]}": ["timing.cancel_on[0].event"],
        "42": ["timing.cancel_on[0]"],
    }
    for entry, keys in cases.items():
        text = MESSAGE.format(name="ok", id=1) + f"timing:\n  cancel_on:\n    - {entry}\n"
        issues = check_catalog(write(tmp_path, {"messages/ok.yaml": text}))
        assert [(i.file, i.key) for i in issues] == [("messages/ok.yaml", k) for k in keys], (
            entry,
            issues,
        )


def test_an_event_listed_twice_is_an_error(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1) + (
        "timing:\n  cancel_on: [play.started, {event: play.started, match: [show_id]}]\n"
    )
    issues = check_catalog(write(tmp_path, {"messages/ok.yaml": text}))
    assert [(i.file, i.key) for i in issues] == [("messages/ok.yaml", "timing.cancel_on[1]")]


def test_the_example_catalog_scopes_continue_watching_to_its_show() -> None:
    root = Path(__file__).parents[2] / "catalog"
    spec = load_catalog(root).spec.messages["continue_watching"]

    assert spec.timing.cancel_match == {"play.started": (("show_id",),)}


def test_a_match_path_missing_from_the_example_event_is_an_error(tmp_path: Path) -> None:
    # A misspelt path is absent from every event, and absent matches absent: caught here.
    text = MESSAGE.format(name="ok", id=1) + (
        "timing:\n  cancel_on: [signup.done, {event: play.started, match: [show-id]}]\n"
        "example:\n  event: {show_id: dark}\n"
    )
    issues = check_catalog(write(tmp_path, {"messages/ok.yaml": text}))
    assert [(i.file, i.key) for i in issues] == [
        ("messages/ok.yaml", "timing.cancel_on[1].match[0]")
    ]
