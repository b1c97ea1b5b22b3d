"""The dispatcher skips a message whose address was marked bad after it was decided
(the voice fallback after an SMS got 21211), but not a call to a number that only
cannot receive SMS (a landline), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from clarion.catalog import load_catalog
from clarion.channels.base import Outgoing, Receipt
from clarion.core.delivery import BadAddress
from clarion.core.model import Channel, Profile, Status
from clarion.runtime.dispatcher import Dispatcher
from clarion.store import SqlStore
from tests.integration.pipeline_support import EXAMPLE_CATALOG, ScriptedProvider
from tests.integration.store_support import T0, decision, event, process


def test_a_number_marked_bad_since_the_decision_is_not_called(store: SqlStore) -> None:
    store.upsert_profile(Profile(id="p1", locale="en", phone="+15551234567"), T0)
    source = event("e1", payload={"amount": 15.49, "currency": "USD", "show_title": "Dark"})
    # payment_failed's step 3 is its SMS step in the example catalog.
    sms = decision(source, step=3, channel=Channel.SMS)
    process(store, source, sms)
    store.record_bad_address("p1", BadAddress("phone", "+15551234567", "twilio:21211"), T0)
    provider = ScriptedProvider(lambda m: Receipt(provider="twilio"), name="twilio")
    catalog = load_catalog(EXAMPLE_CATALOG)
    dispatcher = Dispatcher(
        store, lambda: catalog, {"twilio": provider}, {Channel.SMS: ["twilio"]}, lambda: T0, "w1"
    )

    assert asyncio.run(dispatcher.run_once()) == 1

    message = store.get_message(sms.guid)
    assert message is not None
    assert (message.status, message.reason) == (Status.SUPPRESSED, "no_address")
    assert provider.calls == []


def test_a_usable_number_is_called(store: SqlStore) -> None:
    store.upsert_profile(Profile(id="p1", locale="en", phone="+15551234567"), T0)
    source = event("e1", payload={"amount": 15.49, "currency": "USD", "show_title": "Dark"})
    sms = decision(source, step=3, channel=Channel.SMS)
    process(store, source, sms)
    store.record_bad_address("p1", BadAddress("phone", "+15550000000", "twilio:21211"), T0)
    calls: list[Outgoing] = []
    provider = ScriptedProvider(
        lambda m: Receipt(provider="twilio", ref="SM1"), name="twilio", calls=calls
    )
    catalog = load_catalog(EXAMPLE_CATALOG)
    dispatcher = Dispatcher(
        store, lambda: catalog, {"twilio": provider}, {Channel.SMS: ["twilio"]}, lambda: T0, "w1"
    )

    assert asyncio.run(dispatcher.run_once()) == 1

    assert [c.phone for c in calls] == ["+15551234567"]
    message = store.get_message(sms.guid)
    assert message is not None and message.status is Status.SENT


def _dispatch_voice_after_sms_limit(store: SqlStore, bad: BadAddress, now: datetime) -> list[str]:
    """Record ``bad`` for the profile's number and dispatch a voice message due now."""
    store.upsert_profile(Profile(id="p1", locale="en", phone="+15551234567"), T0)
    source = event("e1", kind="password.reset_requested", payload={"code": "123456"})
    voice = decision(source, "password_reset", step=1, channel=Channel.VOICE, due_at=now)
    process(store, source, voice)
    store.record_bad_address("p1", bad, T0)
    calls: list[Outgoing] = []
    provider = ScriptedProvider(
        lambda m: Receipt(provider="twilio", ref="CA1"), name="twilio", calls=calls
    )
    catalog = load_catalog(EXAMPLE_CATALOG)
    dispatcher = Dispatcher(
        store, lambda: catalog, {"twilio": provider}, {Channel.VOICE: ["twilio"]}, lambda: now, "w1"
    )
    assert asyncio.run(dispatcher.run_once()) == 1
    return [c.channel.value + ":" + str(c.phone) for c in calls]


def test_a_landline_still_gets_the_voice_fallback(store: SqlStore) -> None:
    # Twilio 30006: the number cannot receive SMS; that is why the call exists.
    landline = BadAddress("sms", "+15551234567", "twilio:30006")

    assert _dispatch_voice_after_sms_limit(store, landline, T0) == ["voice:+15551234567"]
    profile = store.get_profile("p1")
    assert profile is not None
    assert profile.address_for(Channel.SMS, T0) is None
    assert profile.address_for(Channel.VOICE, T0) == "+15551234567"


def test_a_temporary_limit_expires(store: SqlStore) -> None:
    # Twilio 30003 (handset off): SMS waits a while, then the number is tried again.
    off = BadAddress("sms", "+15551234567", "twilio:30003", timedelta(hours=12))
    store.upsert_profile(Profile(id="p1", locale="en", phone="+15551234567"), T0)
    store.record_bad_address("p1", off, T0)

    profile = store.get_profile("p1")
    assert profile is not None
    assert profile.address_for(Channel.SMS, T0 + timedelta(hours=11)) is None
    assert profile.address_for(Channel.SMS, T0 + timedelta(hours=12)) == "+15551234567"
    assert profile.address_for(Channel.VOICE, T0) == "+15551234567"
