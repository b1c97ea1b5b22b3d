"""Twilio in the whole pipeline, on SQLite and PostgreSQL: event -> SMS or call through
the fake, signed status callbacks, and bad numbers that stop later messages."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clarion.channels.provider_config import SinkConfig, TwilioSmsConfig, TwilioVoiceConfig
from clarion.channels.twilio_signature import SIGNATURE_HEADER, compute_signature
from clarion.core.model import Channel
from clarion.runtime.clock import system_clock
from clarion.service import Service
from tests.integration.pipeline_support import EXAMPLE_CATALOG, running, settings_for, when_idle
from tests.integration.twilio_fake import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeReply,
    FakeRequest,
    TwilioFake,
    created,
    twilio_error,
    twilio_fake,
)

PUBLIC_URL = "https://clarion.example.com"
CALLBACK = f"{PUBLIC_URL}/v1/providers/twilio/status"
PAYMENT = {"amount": 15.49, "currency": "BRL", "show_title": "Dark"}
CALL_MESSAGE = """\
name: payment_call
id: 1099
category: account
trigger: {event: payment.call}
channels:
  - channel: voice
    content: {body: payment_failed.sms.body}
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[TwilioFake]:
    with twilio_fake() as running_fake:
        yield running_fake


@pytest.fixture(autouse=True)
def _reset(fake: TwilioFake) -> None:
    fake.script = created
    fake.requests.clear()


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """The example catalog plus a voice message that speaks the SMS copy."""
    copy = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, copy)
    (copy / "messages" / "payment_call.yaml").write_text(CALL_MESSAGE)
    return copy


def twilio_settings(db_url: str, tmp_path: Path, catalog: Path, fake: TwilioFake) -> Any:
    account = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "default_sender": "+15005550006",
        "senders": {"BR": "+5511400000000"},
        "base_url": fake.base_url,
        "public_url": PUBLIC_URL,
    }
    return settings_for(
        db_url,
        tmp_path,
        catalog,
        providers={
            "sink": SinkConfig(path=tmp_path / "sink.jsonl"),
            "twilio": TwilioSmsConfig.model_validate(account),
            "twilio_voice": TwilioVoiceConfig.model_validate(account),
        },
        routes={Channel.SMS: "twilio", Channel.VOICE: "twilio_voice"},
        run_workers=False,
    )


def profile(client: TestClient, pid: str, phone: str = "+5511912345678") -> None:
    body = {"locale": "pt-BR", "timezone": "America/Sao_Paulo", "country": "BR", "phone": phone}
    assert client.put(f"/v1/profiles/{pid}", json=body).status_code == 200


def sms_of(client: TestClient, pid: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/profiles/{pid}/messages", params={"channel": "sms"})
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def settled(client: TestClient, service: Service, pid: str, count: int = 1) -> list[dict[str, Any]]:
    """The profile's SMS messages once the workers are idle: ``count``, all settled."""
    service.run_until_idle()
    found = sms_of(client, pid)
    done = [m for m in found if m["status"] not in ("scheduled", "sending")]
    assert len(done) == count, found
    return found


def callback(
    client: TestClient, params: dict[str, str], token: str = AUTH_TOKEN
) -> tuple[int, Any]:
    """POST a status callback signed as Twilio signs it (without the API key)."""
    signed = {"AccountSid": ACCOUNT_SID, **params}
    headers = {SIGNATURE_HEADER: compute_signature(CALLBACK, signed.items(), token)}
    response = client.post(
        "/v1/providers/twilio/status",
        data=signed,
        headers={**headers, "Authorization": ""},
    )
    return response.status_code, response.json()


def sent_sms(client: TestClient, service: Service, pid: str) -> dict[str, Any]:
    """A payment.failed event for a new profile ``pid``, once its SMS settled."""
    profile(client, pid)
    event = {"id": "e1", "type": "payment.failed", "profile_id": pid, "payload": PAYMENT}
    assert client.post("/v1/events", json=event).status_code == 202
    [message] = settled(client, service, pid)
    return message


def timeline(client: TestClient, guid: str) -> list[tuple[str, str | None]]:
    body = client.get(f"/v1/messages/{guid}").json()
    return [(entry["status"], entry["reason"]) for entry in body["timeline"]]


def test_sms_with_the_countrys_sender_and_signed_status_callbacks(
    db_url: str, tmp_path: Path, catalog: Path, fake: TwilioFake
) -> None:
    settings = twilio_settings(db_url, tmp_path, catalog, fake)
    with running(settings, clock=system_clock) as (client, service):
        message = sent_sms(client, service, "ana")

        [request] = [r for r in fake.requests if r.form.get("To") == "+5511912345678"]
        assert request.form["From"] == "+5511400000000"
        assert request.form["Body"] == (
            "Seu pagamento de R$\xa015,49 não foi aprovado. Atualize para continuar assistindo: "
            "example.com/pay (https://www.example.com/account/payment)"
        )
        assert request.form["StatusCallback"] == CALLBACK
        assert message["status"] == "sent"
        sid = message["provider_ref"]
        assert sid.startswith("SM")

        forged = callback(client, {"MessageSid": sid, "MessageStatus": "failed"}, "wrong")
        unsigned = client.post(
            "/v1/providers/twilio/status",
            data={"AccountSid": ACCOUNT_SID, "MessageSid": sid, "MessageStatus": "failed"},
        )
        assert forged[0] == unsigned.status_code == 403
        assert forged[1]["error"] == "forbidden"
        assert sms_of(client, "ana")[0]["status"] == "sent"

        ok = callback(client, {"MessageSid": sid, "MessageStatus": "sent", "To": "+55"})
        assert ok == (200, {"applied": True, "guid": message["guid"], "status": "sent"})
        assert callback(client, {"MessageSid": sid, "MessageStatus": "delivered"})[1]["applied"]
        late = callback(client, {"MessageSid": sid, "MessageStatus": "sent"})
        assert late[1] == {"applied": False, "guid": message["guid"], "status": "delivered"}

        assert sms_of(client, "ana")[0]["status"] == "delivered"
        assert timeline(client, message["guid"])[-2:] == [
            ("sent", "provider_status:twilio:sent"),
            ("delivered", None),
        ]


def test_an_invalid_number_fails_and_is_not_used_again(
    db_url: str, tmp_path: Path, catalog: Path, fake: TwilioFake
) -> None:
    fake.script = lambda r: twilio_error(400, 21211, "Invalid 'To' Phone Number")
    settings = twilio_settings(db_url, tmp_path, catalog, fake)
    with running(settings, clock=system_clock) as (client, service):
        profile(client, "bo", phone="+5511000")
        event = {"id": "e1", "type": "payment.failed", "profile_id": "bo", "payload": PAYMENT}
        assert client.post("/v1/events", json=event).status_code == 202
        [first] = settled(client, service, "bo")
        assert (first["status"], first["reason"]) == ("failed", "provider_rejected:twilio:21211")
        last = client.get(f"/v1/messages/{first['guid']}").json()["timeline"][-1]
        assert last["detail"]["bad_address"] == "phone"
        asked = len(fake.requests)

        again = {**event, "id": "e2"}
        assert client.post("/v1/events", json=again).status_code == 202
        found = settled(client, service, "bo", 2)
        assert (found[0]["status"], found[0]["reason"]) == ("suppressed", "no_address")
        assert len(fake.requests) == asked  # Twilio was not asked again

        # The profile changes its number: SMS goes out again.
        fake.script = created
        profile(client, "bo", phone="+5511912340000")
        third = {**event, "id": "e3"}
        assert client.post("/v1/events", json=third).status_code == 202
        assert settled(client, service, "bo", 3)[0]["status"] == "sent"


def test_an_unreachable_handset_reported_by_callback_limits_sms_for_a_while(
    db_url: str, tmp_path: Path, catalog: Path, fake: TwilioFake
) -> None:
    settings = twilio_settings(db_url, tmp_path, catalog, fake)
    with running(settings, clock=system_clock) as (client, service):
        message = sent_sms(client, service, "cy")
        params = {
            "MessageSid": message["provider_ref"],
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
            "To": "+5511912345678",
        }

        assert callback(client, params)[0] == 200
        metrics = client.get("/metrics").text
        assert 'clarion_provider_reports_total{provider="twilio",result="failed"}' in metrics

        [failed] = sms_of(client, "cy")
        assert (failed["status"], failed["reason"]) == ("failed", "provider_rejected:twilio:30003")
        stored = service.store.get_profile("cy")
        assert stored is not None
        # A handset that is off: no SMS for a while, but a call may still reach it.
        now = datetime.now(UTC)
        assert stored.address_for(Channel.SMS, now) is None
        assert stored.address_for(Channel.VOICE, now) == "+5511912345678"
        assert stored.address_for(Channel.SMS, now + timedelta(hours=13)) == "+5511912345678"


def test_a_call_speaks_the_copy_in_the_profiles_language(
    db_url: str, tmp_path: Path, catalog: Path, fake: TwilioFake
) -> None:
    settings = twilio_settings(db_url, tmp_path, catalog, fake)
    with running(settings, clock=system_clock) as (client, service):
        profile(client, "di", phone="+5511977776666")
        event = {"id": "c1", "type": "payment.call", "profile_id": "di", "payload": PAYMENT}
        assert client.post("/v1/events", json=event).status_code == 202

        def call() -> Any:
            return [r for r in fake.requests if r.form.get("To") == "+5511977776666"]

        [request] = when_idle(service, call)
        assert request.resource == "Calls"
        say = ET.fromstring(request.form["Twiml"]).find("Say")
        assert say is not None and say.attrib == {"language": "pt-BR"}
        assert say.text is not None and say.text.startswith("Seu pagamento de R$\xa015,49")
        assert say.text.endswith("continuar assistindo: example.com/pay")


def test_a_callback_before_the_sid_is_stored_is_applied_when_it_is(
    db_url: str, tmp_path: Path, catalog: Path, fake: TwilioFake
) -> None:
    sid = "SM" + "d" * 32

    def known_sid(request: FakeRequest) -> FakeReply:
        reply = created(request)
        return FakeReply(reply.status, {**(reply.body or {}), "sid": sid})

    fake.script = known_sid
    settings = twilio_settings(db_url, tmp_path, catalog, fake)
    with running(settings, clock=system_clock) as (client, service):
        early = callback(client, {"MessageSid": sid, "MessageStatus": "delivered"})
        assert early == (200, {"applied": False, "guid": None, "held": True})
        metrics = client.get("/metrics").text
        assert 'clarion_provider_reports_total{provider="twilio",result="held"}' in metrics

        message = sent_sms(client, service, "di")

        assert (message["status"], message["provider_ref"]) == ("delivered", sid)
        assert timeline(client, message["guid"])[-2:] == [("sent", None), ("delivered", None)]
