"""The whole pipeline in-process, on SQLite and PostgreSQL: event in over HTTP,
decided, scheduled, dispatched to a provider, and explained by the API.

The service runs without worker threads: each test acts, runs the workers until
idle (``Service.run_until_idle``), and asserts, with no polling and no time limit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from clarion.channels.base import Outgoing, PermanentError, Receipt, TransientError
from clarion.channels.sink import read_sink
from clarion.config import Settings
from clarion.service import Service
from tests.integration.pipeline_support import (
    FakeClock,
    ScriptedProvider,
    running,
    settings_for,
)

PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Stranger Things"}


def _profile(client: TestClient, pid: str, **extra: Any) -> None:
    body = {
        "locale": "pt-BR",
        "timezone": "America/Sao_Paulo",
        "country": "BR",
        "email": f"{pid}@example.com",
        "phone": "+5511912345678",
        "account_id": "acct-1",
    }
    body.update(extra)
    assert client.put(f"/v1/profiles/{pid}", json=body).status_code == 200
    device = {"platform": "ios", "app_version": "16.2.0", "push_token": f"tok-{pid}"}
    assert client.put(f"/v1/profiles/{pid}/devices/phone", json=device).status_code == 200


def _messages(client: TestClient, pid: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/profiles/{pid}/messages", params=params)
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def _settled(client: TestClient, service: Service, pid: str, count: int) -> list[dict[str, Any]]:
    """The profile's ``count`` messages, each past scheduled and sending, once the
    workers have nothing left to do."""
    service.run_until_idle()
    found = _messages(client, pid)
    assert len(found) == count, found
    assert [m for m in found if m["status"] in ("scheduled", "sending")] == [], found
    return found


def _idle_settings(db_url: str, tmp_path: Path, **kw: Any) -> Settings:
    return settings_for(db_url, tmp_path, run_workers=False, **kw)


def test_payment_failed_reaches_every_channel_in_the_profiles_locale(
    db_url: str, tmp_path: Path
) -> None:
    with running(_idle_settings(db_url, tmp_path)) as (client, service):
        _profile(client, "ana")
        answer = client.post(
            "/v1/events",
            json={"id": "evt-1", "type": "payment.failed", "profile_id": "ana", "payload": PAYMENT},
        )
        assert answer.status_code == 202 and answer.json()["duplicate"] is False
        messages = _settled(client, service, "ana", 4)
        assert {m["channel"] for m in messages} == {"inapp", "push", "email", "sms"}
        assert {m["status"] for m in messages} == {"delivered"}
        lines = read_sink(tmp_path / "sink.jsonl")
        assert sorted(str(line["guid"]) for line in lines) == sorted(m["guid"] for m in messages)
        push = next(line for line in lines if line["channel"] == "push")
        fields = push["fields"]
        assert isinstance(fields, dict) and "Stranger Things" in fields["body"]
        assert push["locale"] in ("pt-BR", "pt")  # Portuguese copy via the fallback chain
        assert "US$" in fields["body"]  # money formatted for a Brazilian reader
        detail = client.get(f"/v1/messages/{messages[0]['guid']}").json()
        # The sink takes no idempotency key: the attempt is recorded before the call.
        assert [(e["status"], e["reason"]) for e in detail["timeline"]] == [
            ("scheduled", None),
            ("sending", None),
            ("sending", "attempt"),
            ("delivered", None),
        ]


def test_a_repeated_event_is_a_no_op_answered_as_before(db_url: str, tmp_path: Path) -> None:
    with running(_idle_settings(db_url, tmp_path)) as (client, service):
        _profile(client, "ana")
        body = {"type": "payment.failed", "profile_id": "ana", "payload": PAYMENT}
        first = client.post("/v1/events", json=body, headers={"Idempotency-Key": "k-1"})
        again = client.post("/v1/events", json=body, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 202
        assert again.json() == {**first.json(), "duplicate": True}
        batch = client.post("/v1/events:batch", json={"events": [{**body, "id": "k-1"}]})
        assert batch.json()["results"][0]["received_at"] == first.json()["received_at"]
        assert len(_settled(client, service, "ana", 4)) == 4


def test_why_not_suppressed_messages_say_which_rule(db_url: str, tmp_path: Path) -> None:
    with running(_idle_settings(db_url, tmp_path)) as (client, service):
        _profile(client, "bo", email=None, opt_outs={"channels": ["sms"]})
        client.post(
            "/v1/events",
            json={"id": "e-bo", "type": "payment.failed", "profile_id": "bo", "payload": PAYMENT},
        )
        messages = {m["channel"]: m for m in _settled(client, service, "bo", 4)}
        assert (messages["email"]["status"], messages["email"]["reason"]) == (
            "suppressed",
            "no_address",
        )
        assert messages["sms"]["reason"] == "opted_out"
        only_sms = _messages(client, "bo", channel="sms", status="suppressed")
        assert [m["guid"] for m in only_sms] == [messages["sms"]["guid"]]


def test_delay_and_cancel_on(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    with running(_idle_settings(db_url, tmp_path), clock=clock) as (client, service):
        for pid in ("quitter", "finisher"):
            _profile(client, pid, timezone="UTC")
            client.post(
                "/v1/events",
                json={"id": f"s-{pid}", "type": "signup.started", "profile_id": pid},
            )
            # Each decided on its own, as worker threads usually do: in one batch with
            # a clock that stands still, the second would be dated a tick after the
            # clock, and the cancellation read at the clock's time before it.
            service.run_until_idle()
        assert _messages(client, "quitter") and _messages(client, "finisher")
        [pending] = _messages(client, "finisher")
        assert pending["status"] == "scheduled" and pending["channel"] == "email"
        client.post(
            "/v1/events",
            json={"id": "c-1", "type": "signup.completed", "profile_id": "finisher"},
        )
        service.run_until_idle()
        assert _messages(client, "finisher")[0]["status"] == "cancelled"
        assert _messages(client, "finisher")[0]["reason"] == "cancelled:signup.completed"
        clock.advance(timedelta(hours=25))  # past the 24 h delay, inside the 10-20 window
        [sent] = _settled(client, service, "quitter", 1)
        assert sent["status"] == "delivered"
        timeline = client.get(f"/v1/messages/{pending['guid']}").json()["timeline"]
        assert [e["status"] for e in timeline] == ["scheduled", "cancelled"]


def test_transient_failures_retry_then_succeed_and_permanent_ones_dead_letter(
    db_url: str, tmp_path: Path
) -> None:
    failures: dict[str, int] = {}

    def script(message: Outgoing) -> Receipt:
        if message.channel.value == "sms":
            raise PermanentError("21211", "invalid 'To' phone number")
        failures[message.guid] = failures.get(message.guid, 0) + 1
        if failures[message.guid] <= 2:
            raise TransientError("http_503", retry_after=None)
        return Receipt(provider="scripted", ref=f"ref-{message.guid[:6]}")

    provider = ScriptedProvider(script)
    settings = _idle_settings(
        db_url,
        tmp_path,
        routes=dict.fromkeys(["inapp", "push", "email", "sms", "voice", "webhook"], "scripted"),
    )
    clock = FakeClock()
    with running(settings, clock=clock, providers={"scripted": provider}) as (client, service):
        _profile(client, "cy")
        client.post(
            "/v1/events",
            json={"id": "e-cy", "type": "payment.failed", "profile_id": "cy", "payload": PAYMENT},
        )
        for _ in range(2):  # two failed attempts, each retried after its backoff
            service.run_until_idle()
            clock.advance(timedelta(seconds=1))  # past the 0.05 s retry cap
        messages = {m["channel"]: m for m in _settled(client, service, "cy", 4)}
        assert messages["sms"]["status"] == "failed"
        assert messages["sms"]["reason"] == "provider_rejected:21211"
        push = messages["push"]
        assert (push["status"], push["attempts"], push["provider"]) == ("sent", 3, "scripted")
        timeline = client.get(f"/v1/messages/{push['guid']}").json()["timeline"]
        reasons = [e["reason"] for e in timeline if e["status"] == "scheduled"]
        assert reasons[1:] == ["retrying:http_503", "retrying:http_503"]


def test_new_season_reaches_the_accounts_fans_once_per_show(db_url: str, tmp_path: Path) -> None:
    with running(_idle_settings(db_url, tmp_path)) as (client, service):
        for pid, watchlist in (("fan1", ["dark"]), ("fan2", ["dark", "ozark"]), ("other", [])):
            _profile(client, pid, attributes={"watchlist": watchlist})
        season = {"show_id": "dark", "show_title": "Dark", "season": 3}
        body = {"type": "season.released", "profile_id": "fan1", "account_id": "acct-1"}
        client.post("/v1/events", json={**body, "id": "s-1", "payload": season})
        assert _settled(client, service, "fan2", 1)[0]["status"] == "delivered"
        assert _settled(client, service, "other", 1)[0]["reason"] == "not_in_segment"
        client.post("/v1/events", json={**body, "id": "s-2", "payload": season})
        service.run_until_idle()
        repeat = _messages(client, "fan1")
        assert len(repeat) == 2
        assert repeat[0]["reason"] == "duplicate"
        first = read_sink(tmp_path / "sink.jsonl")
        assert sorted(str(line["profile_id"]) for line in first) == ["fan1", "fan2"]
        pilot = {**season, "season": 1}  # the trigger condition excludes first seasons
        client.post("/v1/events", json={**body, "id": "s-3", "payload": pilot})
        # Events are processed in order: once a later marker has its messages, s-3 had its turn.
        marker = {"type": "payment.failed", "profile_id": "fan1", "payload": PAYMENT}
        client.post("/v1/events", json={**marker, "id": "marker"})
        service.run_until_idle()
        messages = _messages(client, "fan1")
        assert len(messages) >= 6
        assert [m["message"] for m in messages].count("new_season") == 2


def test_continue_watching_is_cancelled_by_play(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    paused = {"show_id": "dark", "show_title": "Dark", "episode_title": "Secrets", "progress": 0.4}
    with running(_idle_settings(db_url, tmp_path), clock=clock) as (client, service):
        for pid in ("stays", "returns"):
            _profile(client, pid, timezone="UTC")
            client.post(
                "/v1/events",
                json={
                    "id": f"p-{pid}",
                    "type": "play.paused",
                    "profile_id": pid,
                    "payload": paused,
                },
            )
        service.run_until_idle()
        assert _messages(client, "stays") and _messages(client, "returns")
        assert _messages(client, "stays")[0]["due_at"].startswith("2026-03-02T14:00:00")
        # Another show leaves the reminder pending; the same show cancels it.
        for event_id, show in (("play-0", "ozark"), ("play-1", "dark")):
            client.post(
                "/v1/events",
                json={
                    "id": event_id,
                    "type": "play.started",
                    "profile_id": "returns",
                    "payload": {"show_id": show},
                },
            )

            def processed(e: str = event_id) -> bool:
                return bool(client.get(f"/v1/events/{e}").json()["processed"])

            service.run_until_idle()
            assert processed()
            if show == "ozark":
                assert _messages(client, "returns")[0]["status"] == "scheduled"
        assert _messages(client, "returns")[0]["status"] == "cancelled"
        clock.advance(timedelta(hours=2))
        [nudge] = _settled(client, service, "stays", 1)
        assert (nudge["channel"], nudge["status"]) == ("push", "delivered")
        assert _messages(client, "returns")[0]["reason"] == "cancelled:play.started"
