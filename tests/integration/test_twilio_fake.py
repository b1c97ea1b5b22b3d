"""The Twilio providers against the fault-injecting fake: what they send, and how
every kind of failure maps to Clarion's errors."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace

import pytest

from clarion.channels.base import (
    BadAddressError,
    ErrorScope,
    Outgoing,
    PermanentError,
    Provider,
    ProviderError,
    Receipt,
    TransientError,
)
from clarion.channels.provider_config import TwilioSmsConfig, TwilioVoiceConfig
from clarion.channels.registry import build_provider
from clarion.core.model import Channel
from tests.integration.twilio_fake import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeReply,
    TwilioFake,
    created,
    twilio_error,
    twilio_fake,
)

SENDERS = {"BR": "+5511400000000", "us": "+15005550006"}


@pytest.fixture(scope="module")
def fake() -> Iterator[TwilioFake]:
    with twilio_fake() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(fake: TwilioFake) -> None:
    fake.script = created
    fake.requests.clear()


def sms_config(base_url: str, **kw: object) -> TwilioSmsConfig:
    values: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "default_sender": "Clarion",
        "senders": SENDERS,
        "base_url": base_url,
        "public_url": "https://clarion.example.com",
        "timeout": 0.5,
    }
    values.update(kw)
    return TwilioSmsConfig.model_validate(values)


def outgoing(phone: str | None = "+5511912345678", **kw: object) -> Outgoing:
    values: dict[str, object] = {
        "guid": "G1",
        "channel": Channel.SMS,
        "message": "payment_failed",
        "message_id": 1001,
        "category": "account",
        "profile_id": "ana",
        "locale": "pt-BR",
        "fields": {"body": "Pague **já**: [example.com/pay](https://www.example.com/pay)"},
        "phone": phone,
        "country": "BR",
    }
    values.update(kw)
    return Outgoing(**values)  # type: ignore[arg-type]


def send(provider: Provider, message: Outgoing) -> Receipt | ProviderError:
    async def go() -> Receipt | ProviderError:
        try:
            return await provider.send(message)
        except ProviderError as exc:
            return exc
        finally:
            await provider.aclose()

    return asyncio.run(go())


def sms(fake: TwilioFake, message: Outgoing, **kw: object) -> Receipt | ProviderError:
    return send(build_provider("sms", sms_config(fake.base_url, **kw)), message)


def test_an_sms_goes_out_with_the_countrys_sender_and_the_plain_copy(fake: TwilioFake) -> None:
    receipt = sms(fake, outgoing())

    assert isinstance(receipt, Receipt)
    [request] = fake.requests
    assert request.resource == "Messages"
    assert request.account_sid == ACCOUNT_SID
    assert request.authorized
    assert request.form == {
        "To": "+5511912345678",
        "From": "+5511400000000",
        "Body": "Pague já: example.com/pay (https://www.example.com/pay)",
        "StatusCallback": "https://clarion.example.com/v1/providers/twilio/status",
    }
    assert receipt.provider == "sms"
    assert receipt.ref is not None and receipt.ref.startswith("SM")
    assert not receipt.delivered


def test_the_numbers_own_country_picks_the_sender_before_the_profiles(fake: TwilioFake) -> None:
    sms(fake, outgoing("+14155550123", country="BR"))  # a Brazilian profile with a US number
    sms(fake, outgoing("+33612345678", country="FR"))  # no sender for France: the default

    assert [r.form["From"] for r in fake.requests] == ["+15005550006", "Clarion"]


def test_no_public_url_means_no_status_callback(fake: TwilioFake) -> None:
    sms(fake, outgoing(), public_url=None)

    assert "StatusCallback" not in fake.requests[0].form


def test_429_is_transient_and_honours_retry_after(fake: TwilioFake) -> None:
    fake.script = lambda _: twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "7"})

    error = sms(fake, outgoing())

    assert isinstance(error, TransientError)
    assert error.code == "twilio:20429"
    assert error.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(fake: TwilioFake, status: int) -> None:
    fake.script = lambda _: FakeReply(status, None)

    error = sms(fake, outgoing())

    assert isinstance(error, TransientError)
    assert error.code == f"http_{status}"
    assert error.retry_after is None


def test_a_slow_answer_is_a_transient_timeout(fake: TwilioFake) -> None:
    fake.script = lambda r: FakeReply(**{**created(r).__dict__, "delay": 1.0})

    error = sms(fake, outgoing(), timeout=0.2)

    assert isinstance(error, TransientError)
    assert error.code == "timeout"


@pytest.mark.parametrize(("code", "kind"), [(21211, "phone"), (21214, "phone"), (21614, "sms")])
def test_an_invalid_number_is_a_bad_address(fake: TwilioFake, code: int, kind: str) -> None:
    # 21614 is "not a mobile number": it cannot take SMS, but a call may reach it.
    fake.script = lambda _: twilio_error(400, code, "Invalid 'To' Phone Number")

    error = sms(fake, outgoing("+5511000"))

    assert isinstance(error, BadAddressError)
    assert (error.code, error.kind, error.value) == (f"twilio:{code}", kind, "+5511000")
    assert error.lasts is None


def test_an_unsubscribed_number_is_permanent_but_not_bad(fake: TwilioFake) -> None:
    fake.script = lambda _: twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")

    error = sms(fake, outgoing())

    assert isinstance(error, PermanentError)
    assert not isinstance(error, BadAddressError)
    assert error.code == "twilio:21610"
    assert error.scope is ErrorScope.ADDRESS  # another provider would refuse it too


def test_wrong_credentials_are_permanent(fake: TwilioFake) -> None:
    error = sms(fake, outgoing(), auth_token="not-the-token")

    assert isinstance(error, PermanentError)
    assert error.code == "twilio:20003"
    assert fake.requests[0].authorized is False
    assert error.scope is ErrorScope.PROVIDER  # the account, not the number: fail over


def test_a_refused_connection_is_transient() -> None:
    with twilio_fake() as gone:
        base_url = gone.base_url
    error = send(build_provider("sms", sms_config(base_url)), outgoing())

    assert isinstance(error, TransientError)
    assert error.code == "connection_error"


def test_a_call_speaks_the_copy_in_the_locales_language(fake: TwilioFake) -> None:
    config = TwilioVoiceConfig.model_validate(
        {
            **sms_config(fake.base_url).model_dump(exclude={"type"}),
            "auth_token": AUTH_TOKEN,
            "voices": {"pt-BR": "Polly.Camila"},
        }
    )
    message = outgoing(
        channel=Channel.VOICE,
        fields={"body": 'Código <b>"1 & 2"</b>: [pague aqui](https://x.example/p)'},
    )

    receipt = send(build_provider("voice", config), message)

    assert isinstance(receipt, Receipt)
    assert receipt.ref is not None and receipt.ref.startswith("CA")
    [request] = fake.requests
    assert request.resource == "Calls"
    assert request.form["From"] == "+5511400000000"
    assert request.form["StatusCallback"].endswith("/v1/providers/twilio/status")
    say = ET.fromstring(request.form["Twiml"]).find("Say")
    assert say is not None
    assert say.attrib == {"language": "pt-BR", "voice": "Polly.Camila"}
    assert say.text == 'Código <b>"1 & 2"</b>: pague aqui'  # escaped on the wire, URL not read


def test_a_message_without_a_phone_is_permanent(fake: TwilioFake) -> None:
    error = sms(fake, outgoing(phone=None))

    assert isinstance(error, PermanentError)
    assert error.code == "no_address"
    assert fake.requests == []


def test_providers_say_they_are_not_idempotent(fake: TwilioFake) -> None:
    provider = build_provider("sms", sms_config(fake.base_url))
    assert getattr(provider, "idempotent", None) is False
    asyncio.run(provider.aclose())


def test_a_burst_beyond_the_connection_limit_is_sent_whole(fake: TwilioFake) -> None:
    # 200 SMS at once over at most 4 keep-alive connections: the rest wait for one.
    provider = build_provider("sms", sms_config(fake.base_url, max_connections=4, timeout=10))

    async def go() -> list[Receipt]:
        try:
            return await asyncio.gather(
                *(
                    provider.send(outgoing(guid=f"G{i}", phone=f"+551191234{i:04d}"))
                    for i in range(200)
                )
            )
        finally:
            await provider.aclose()

    receipts = asyncio.run(go())
    assert len({r.ref for r in receipts}) == 200
    assert sorted(r.form["To"] for r in fake.requests) == sorted(
        f"+551191234{i:04d}" for i in range(200)
    )


def test_a_connection_the_server_closes_is_not_used_again(fake: TwilioFake) -> None:
    # "Connection: close" on every answer: each SMS needs a connection of its own.
    fake.script = lambda request: replace(created(request), headers={"Connection": "close"})
    provider = build_provider("sms", sms_config(fake.base_url))

    async def go() -> list[Receipt]:
        try:
            return [await provider.send(outgoing(guid=f"G{i}")) for i in range(3)]
        finally:
            await provider.aclose()

    assert len({r.ref for r in asyncio.run(go())}) == 3
    assert len(fake.requests) == 3
