"""Escalation ladders end to end on SQLite and PostgreSQL: the orchestrator starts a
ladder, scripted providers fail it or leave it unconfirmed, the escalation worker
moves it on under a fake clock, and goal events or deliveries stop it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clarion.catalog import Catalog, load_catalog
from clarion.channels.base import (
    BadAddressError,
    Outgoing,
    PermanentError,
    Provider,
    Receipt,
    TransientError,
)
from clarion.core.escalation import move
from clarion.core.ids import message_guid
from clarion.core.model import Channel, Device, Event, Profile, Status
from clarion.runtime.dispatcher import Dispatcher
from clarion.runtime.escalator import Escalator
from clarion.runtime.orchestrator import Orchestrator
from clarion.store import SqlStore, migrate
from clarion.store.sql.escalation import open_queries
from tests.integration.pipeline_support import (
    EXAMPLE_CATALOG,
    FakeClock,
    ScriptedProvider,
    running,
    settings_for,
    wait_for,
)

# push (10 minutes) -> SMS (30 minutes) -> voice, stopped by the payment update.
LADDER = """
name: card_declined
id: 1901
category: account
trigger: {event: card.declined}
channels:
  - channel: email
    content: {subject: payment_failed.email.subject, body: payment_failed.email.body}
  - channel: push
    content: {title: payment_failed.push.title, body: payment_failed.push.body}
  - channel: sms
    content: {body: payment_failed.sms.body}
  - channel: voice
    content: {body: password_reset.voice.body}
escalation:
  - {channel: push, timeout: 10m}
  - {channel: sms, timeout: 30m}
  - {channel: voice}
goal: {event: payment.updated, within: 7d}
"""
PAYLOAD = {"amount": 15.49, "currency": "USD", "show_title": "Dark", "code": "4821"}


def delivered(message: Outgoing) -> Receipt:
    return Receipt("p", ref=message.guid, delivered=True)


def accepted(message: Outgoing) -> Receipt:
    return Receipt("p", ref=message.guid)  # sent; delivery not (yet) confirmed


def rejected(message: Outgoing) -> Receipt:
    raise PermanentError("unregistered")


def unavailable(message: Outgoing) -> Receipt:
    raise TransientError("http_503")


class Rig:
    """The pipeline's workers, driven step by step under a fake clock."""

    def __init__(
        self, store: SqlStore, tmp_path: Path, scripts: dict[Channel, Any], ladder: str = LADDER
    ) -> None:
        root = tmp_path / "catalog"
        shutil.copytree(EXAMPLE_CATALOG, root)
        (root / "messages" / "card_declined.yaml").write_text(ladder)
        catalog: Catalog = load_catalog(root)
        self.catalog = catalog
        self.store = store
        self.clock = FakeClock()
        self.providers = {
            c: ScriptedProvider(script, name=c.value) for c, script in scripts.items()
        }
        providers: dict[str, Provider] = {c.value: p for c, p in self.providers.items()}
        routes = {c: [c.value] for c in Channel}
        self.orchestrator = Orchestrator(store, lambda: catalog, self.clock, "w1")
        self.dispatcher = Dispatcher(store, lambda: catalog, providers, routes, self.clock, "w1")
        self.escalator = Escalator(store, lambda: catalog, self.clock, "w1")
        store.upsert_profile(
            Profile(id="ana", phone="+5511912345678", email="ana@example.com", country="BR"),
            self.clock(),
        )
        store.upsert_device("ana", Device("phone", "ios", push_token="tok-1"), self.clock())

    def send(self, kind: str, event_id: str) -> None:
        event = Event(event_id, kind, "ana", self.clock(), PAYLOAD)
        self.store.accept_events([event], self.clock())
        self.settle()

    def settle(self) -> None:
        """Run every worker until none has anything left to do."""
        while (
            self.orchestrator.run_once()
            + asyncio.run(self.dispatcher.run_once())
            + self.escalator.run_once()
        ):
            pass

    def later(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.settle()

    def rung(self, channel: str) -> str:
        step = {"push": 1, "sms": 2, "voice": 3, "inapp": 0}[channel]
        return message_guid("e1", "card_declined", step, "ana")

    def status(self, channel: str) -> Status | None:
        found = self.store.get_message(self.rung(channel))
        return None if found is None else found.status

    def reasons(self, channel: str) -> list[str | None]:
        return [e.reason for e in self.store.timeline(self.rung(channel))]

    def calls(self, channel: Channel) -> int:
        return len(self.providers[channel].calls)


def rig(store: SqlStore, tmp_path: Path, **scripts: Callable[[Outgoing], Receipt]) -> Rig:
    base: dict[Channel, Callable[[Outgoing], Receipt]] = {c: delivered for c in Channel}
    base.update({Channel(c): s for c, s in scripts.items()})
    return Rig(store, tmp_path, base)


def test_push_fails_then_sms_unconfirmed_for_30_minutes_then_voice(
    store: SqlStore, tmp_path: Path
) -> None:
    r = rig(store, tmp_path, push=rejected, sms=accepted, voice=accepted)
    r.send("card.declined", "e1")

    # Email is not on the ladder: it goes at once. Push failed: SMS went out at once.
    assert r.calls(Channel.EMAIL) == 1
    assert r.status("push") is Status.FAILED
    assert r.status("sms") is Status.SENT
    assert r.status("voice") is None
    assert r.reasons("push")[-1] == "escalated:failed"

    r.later(timedelta(minutes=29))
    assert r.status("voice") is None  # the SMS still has time

    r.later(timedelta(minutes=2))
    assert r.status("voice") is Status.SENT
    assert r.calls(Channel.VOICE) == 1 and r.calls(Channel.SMS) == 1
    assert r.reasons("sms")[-1] == "escalated:timeout"
    # The last rung has nothing to escalate to: the ladder is done.
    r.later(timedelta(hours=2))
    assert r.calls(Channel.VOICE) == 1

    # Every step is in the timelines, each pointing at the next.
    push = store.timeline(r.rung("push"))
    assert push[-1].detail == {"to": r.rung("sms"), "to_rung": 1, "to_channel": "sms"}
    voice = store.timeline(r.rung("voice"))
    assert voice[0].detail["escalated_from"] == r.rung("sms")
    assert voice[0].detail["rung"] == 2
    ladder = store.ladder(r.rung("voice"))
    assert [(x.rung, x.message.channel, x.message.status) for x in ladder] == [
        (0, Channel.PUSH, Status.FAILED),
        (1, Channel.SMS, Status.SENT),
        (2, Channel.VOICE, Status.SENT),
    ]
    assert all(x.confirm_by is None for x in ladder)


def test_the_goal_event_stops_the_ladder(store: SqlStore, tmp_path: Path) -> None:
    r = rig(store, tmp_path, push=accepted)
    r.send("card.declined", "e1")
    assert r.status("push") is Status.SENT

    r.later(timedelta(minutes=5))
    r.send("payment.updated", "e2")
    assert r.reasons("push")[-1] == "escalation_stopped:payment.updated"

    r.later(timedelta(hours=1))
    assert r.status("sms") is None and r.status("voice") is None
    assert r.calls(Channel.SMS) == 0


def test_the_goal_cancels_a_rung_still_waiting_to_be_sent(store: SqlStore, tmp_path: Path) -> None:
    r = rig(store, tmp_path, push=unavailable)
    r.send("card.declined", "e1")
    assert r.status("push") is Status.SCHEDULED  # waiting to retry

    r.send("payment.updated", "e2")
    assert r.status("push") is Status.CANCELLED
    r.later(timedelta(hours=1))
    assert r.status("sms") is None


def test_a_rung_still_retrying_at_its_timeout_is_cancelled_and_the_ladder_moves_on(
    store: SqlStore, tmp_path: Path
) -> None:
    r = rig(store, tmp_path, push=unavailable, sms=accepted)
    r.send("card.declined", "e1")
    r.later(timedelta(minutes=10))
    assert r.status("push") is Status.CANCELLED
    assert r.reasons("push")[-1] == "escalated:timeout"
    assert r.status("sms") is Status.SENT


def test_a_confirmed_delivery_stops_the_ladder(store: SqlStore, tmp_path: Path) -> None:
    r = rig(store, tmp_path, push=delivered)
    r.send("card.declined", "e1")
    assert r.status("push") is Status.DELIVERED
    assert r.reasons("push")[-1] == "escalation_confirmed"

    r.later(timedelta(hours=1))
    assert r.status("sms") is None
    assert r.calls(Channel.SMS) == 0


def test_a_channel_that_cannot_take_the_message_is_skipped(store: SqlStore, tmp_path: Path) -> None:
    r = rig(store, tmp_path, sms=accepted)
    # No push device: the ladder starts on SMS; opted out of voice meanwhile.
    store.upsert_device("ana", Device("phone", "ios", push_token=None), r.clock())
    r.send("card.declined", "e1")
    assert r.status("push") is Status.SUPPRESSED
    assert r.reasons("push") == ["no_eligible_device", "escalated:skipped"]
    assert r.status("sms") is Status.SENT

    profile = store.get_profile("ana")
    assert profile is not None
    store.upsert_profile(
        Profile(
            id="ana",
            phone=profile.phone,
            country="BR",
            opt_out_channels=frozenset({"voice"}),
        ),
        r.clock(),
    )
    r.later(timedelta(minutes=31))
    assert r.status("voice") is Status.SUPPRESSED
    assert r.reasons("voice") == ["opted_out"]
    assert r.calls(Channel.VOICE) == 0


def test_the_example_password_reset_falls_back_to_voice(store: SqlStore, tmp_path: Path) -> None:
    r = rig(store, tmp_path, sms=accepted, voice=accepted)
    r.send("password.reset_requested", "e1")
    sms = message_guid("e1", "password_reset", 0, "ana")
    voice = message_guid("e1", "password_reset", 1, "ana")
    assert store.get_message(voice) is None

    r.later(timedelta(minutes=5))
    message = store.get_message(voice)
    assert message is not None and message.status is Status.SENT
    [call] = r.providers[Channel.VOICE].calls
    assert "4, 8, 2, 1" in call.fields["body"]
    assert store.timeline(sms)[-1].reason == "escalated:timeout"


@pytest.mark.parametrize(("code", "kind"), [("twilio:30006", "sms"), ("twilio:21211", "phone")])
def test_a_landline_gets_the_voice_fallback_a_bad_number_does_not(
    store: SqlStore, tmp_path: Path, code: str, kind: str
) -> None:
    # The SMS fails as Twilio does for a landline (30006): the number cannot take SMS,
    # which is exactly what the call is for. A number that does not exist (21211)
    # takes no call either.
    def refused(message: Outgoing) -> Receipt:
        raise BadAddressError(code, "refused", kind=kind, value=str(message.phone))

    r = rig(store, tmp_path, sms=refused, voice=accepted)
    r.send("password.reset_requested", "e1")
    voice = store.get_message(message_guid("e1", "password_reset", 1, "ana"))

    assert voice is not None
    if kind == "sms":
        assert voice.status is Status.SENT
        assert [c.phone for c in r.providers[Channel.VOICE].calls] == ["+5511912345678"]
    else:
        assert (voice.status, voice.reason) == (Status.SUPPRESSED, "no_address")
        assert r.providers[Channel.VOICE].calls == []


def test_two_workers_move_a_ladder_once(store: SqlStore, tmp_path: Path) -> None:
    r = rig(store, tmp_path, push=accepted, sms=accepted)
    r.send("card.declined", "e1")
    r.clock.advance(timedelta(minutes=11))
    r.orchestrator.partitions.refresh()  # w1 renews its partitions, as before each batch
    # Two workers read the same timed-out rung before either writes.
    [seen] = store.open_rungs(r.clock(), 10, "w1")
    assert seen.guid == r.rung("push")
    profile = store.get_profile("ana")
    assert profile is not None
    spec = r.catalog.spec
    moves = [move(seen, spec.messages["card_declined"], profile, (), spec, r.clock())] * 2
    assert moves[0] is not None and moves[1] is not None
    assert store.apply_ladder_moves([moves[0]], r.clock(), "w1") == [seen.guid]
    assert store.apply_ladder_moves([moves[1]], r.clock(), "w1") == []  # the rung was closed
    assert store.open_rungs(r.clock(), 10, "w1") == []
    assert r.reasons("push").count("escalated:timeout") == 1
    assert len(store.timeline(r.rung("sms"))) == 1  # created once


def test_only_the_owner_of_a_ladder_s_partition_moves_it(store: SqlStore, tmp_path: Path) -> None:
    r = rig(store, tmp_path, push=accepted, sms=accepted)
    r.send("card.declined", "e1")
    r.clock.advance(timedelta(minutes=11))
    r.orchestrator.partitions.refresh()
    [seen] = store.open_rungs(r.clock(), 10, "w1")
    profile = store.get_profile("ana")
    assert profile is not None
    spec = r.catalog.spec
    moved = move(seen, spec.messages["card_declined"], profile, (), spec, r.clock())
    assert moved is not None

    # A worker without the partition neither sees the rung nor moves it: the move
    # counts caps against Ana's history, which only w1 may be changing.
    assert store.open_rungs(r.clock(), 10, "w2") == []
    assert store.apply_ladder_moves([moved], r.clock(), "w2") == []
    # w1 stalls past its lease and w2 takes the partitions over: w1's move is void.
    later = r.clock() + timedelta(minutes=1)
    store.hold_partitions("w2", later, timedelta(seconds=15))
    assert store.apply_ladder_moves([moved], later, "w1") == []
    assert store.apply_ladder_moves([moved], later, "w2") == [seen.guid]


def test_the_worker_threads_fall_back_to_voice_and_the_api_shows_the_ladder(
    db_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    provider = ScriptedProvider(accepted)
    settings = settings_for(
        db_url,
        tmp_path,
        routes=dict.fromkeys([c.value for c in Channel], "scripted"),
        escalation_poll_seconds=0.01,
    )
    with running(settings, clock, providers={"scripted": provider}) as (client, _):
        client.put("/v1/profiles/bo", json={"locale": "es", "phone": "+34600111222"})
        client.post(
            "/v1/events",
            json={
                "id": "r1",
                "type": "password.reset_requested",
                "profile_id": "bo",
                "payload": {"code": "7391"},
            },
        )
        sms = message_guid("r1", "password_reset", 0, "bo")
        wait_for(lambda: client.get(f"/v1/messages/{sms}").json().get("status") == "sent")
        clock.advance(timedelta(minutes=5))
        voice = message_guid("r1", "password_reset", 1, "bo")
        wait_for(lambda: client.get(f"/v1/messages/{voice}").json().get("status") == "sent")

        body = client.get(f"/v1/messages/{sms}").json()
    assert [(r["rung"], r["channel"], r["status"]) for r in body["escalation"]] == [
        (0, "sms", "sent"),
        (1, "voice", "sent"),
    ]
    assert body["timeline"][-1]["reason"] == "escalated:timeout"
    assert body["timeline"][-1]["detail"]["to"] == voice
    [_, call] = provider.calls
    assert call.channel is Channel.VOICE and "7, 3, 9, 1" in call.fields["body"]
    assert call.locale == "es" and call.fields["body"].startswith("Hola")


def test_the_escalation_worker_reads_only_the_index_of_open_rungs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate(url)
    store = SqlStore(url)
    try:
        with store.engine.connect() as conn:
            for query in open_queries(FakeClock()()):
                literal = {"literal_binds": True}
                compiled = query.compile(dialect=conn.dialect, compile_kwargs=literal)
                sql = f"EXPLAIN QUERY PLAN {compiled.string}"
                plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(sql))
                assert "SEARCH messages USING INDEX ix_messages_ladder_open" in plan, plan
    finally:
        store.close()


# In-app first (the alert in the app), then SMS if no device showed it within an
# hour, then voice; push is off this ladder and goes at once.
INAPP_LADDER = LADDER.replace(
    "  - channel: email\n    content: {subject: payment_failed.email.subject, "
    "body: payment_failed.email.body}",
    "  - channel: inapp\n    content: {title: payment_failed.alert.title, "
    "body: payment_failed.alert.body}",
).replace("  - {channel: push, timeout: 10m}", "  - {channel: inapp, timeout: 1h}")


@pytest.mark.parametrize("feedback", ["impression", "click"])
def test_an_inapp_rung_is_confirmed_by_an_impression_or_a_click(
    store: SqlStore, tmp_path: Path, feedback: str
) -> None:
    base = {c: accepted for c in Channel}
    r = Rig(store, tmp_path, base, INAPP_LADDER)
    r.send("card.declined", "e1")
    alert = store.get_message(r.rung("inapp"))
    assert alert is not None and alert.status is Status.SENT
    assert r.status("sms") is None  # waits for the alert
    assert r.calls(Channel.PUSH) == 1

    r.later(timedelta(minutes=20))
    if feedback == "impression":
        store.record_impression(alert, r.clock(), {"deviceId": "laptop"})
    else:
        store.record_action(alert, "UPDATE_PAYMENT", r.clock(), {"deviceId": "laptop"})
    r.later(timedelta(hours=2))
    assert r.status("sms") is None and r.calls(Channel.SMS) == 0
    assert r.reasons("inapp")[-1] == "escalation_confirmed"


def test_an_unseen_inapp_rung_escalates_after_its_timeout(store: SqlStore, tmp_path: Path) -> None:
    r = Rig(store, tmp_path, {c: accepted for c in Channel}, INAPP_LADDER)
    r.send("card.declined", "e1")
    r.later(timedelta(minutes=59))
    assert r.status("sms") is None
    r.later(timedelta(minutes=1))
    assert r.status("sms") is Status.SENT
    assert r.reasons("inapp")[-1] == "escalated:timeout"


def test_later_rungs_stay_in_the_ladders_ab_test_cell(store: SqlStore, tmp_path: Path) -> None:
    tested = LADDER + (
        "experiment:\n  id: 77\n  cells:\n    - {name: control, weight: 1}\n"
        "    - name: other\n      weight: 1\n"
        "      content: {sms: {body: payment_failed.push.body}}\n"
    )
    r = Rig(store, tmp_path, {**{c: delivered for c in Channel}, Channel.PUSH: rejected}, tested)
    r.send("card.declined", "e1")

    push, sms = (store.get_message(r.rung(c)) for c in ("push", "sms"))
    assert push is not None and sms is not None and sms.status is Status.DELIVERED
    assert push.ab_test_id == sms.ab_test_id == 77
    assert sms.ab_test_cell == push.ab_test_cell is not None
    [sent] = r.providers[Channel.SMS].calls
    assert (sent.tracking["abTestId"], sent.tracking["abTestCell"]) == (77, push.ab_test_cell)


def test_later_rungs_follow_the_ladders_cell_timing(store: SqlStore, tmp_path: Path) -> None:
    # Almost every profile (ana included) is in the cell that only sends 12:00-12:20.
    tested = LADDER + (
        "experiment:\n  id: 78\n  cells:\n    - {name: control, weight: 1}\n"
        "    - name: narrow\n      weight: 1000\n"
        '      timing: {window: {start: "12:00", end: "12:20"}}\n'
    )
    scripts = {**{c: accepted for c in Channel}, Channel.PUSH: rejected}
    r = Rig(store, tmp_path, scripts, tested)
    r.send("card.declined", "e1")  # Monday 12:00: inside the window
    sms = store.get_message(r.rung("sms"))
    assert sms is not None and sms.ab_test_cell == 1 and sms.status is Status.SENT

    r.later(timedelta(minutes=31))  # the SMS timed out at 12:30: outside the cell's window
    voice = store.get_message(r.rung("voice"))
    assert voice is not None and voice.status is Status.SCHEDULED
    assert voice.reason == "outside_window" and r.calls(Channel.VOICE) == 0
