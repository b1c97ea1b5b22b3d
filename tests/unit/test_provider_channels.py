"""Each provider type declares the channels it serves, and a route (in the settings or
on a catalog step) that sends a channel to a provider not serving it is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clarion.catalog import load_catalog
from clarion.channels.base import Outgoing, PermanentError, Provider
from clarion.channels.email_render import render
from clarion.channels.provider_config import ProviderType, parse_provider_configs
from clarion.channels.push_message import notification_of
from clarion.channels.registry import BUILDERS, build_providers
from clarion.channels.routing import misrouted
from clarion.channels.twilio_client import copy_of
from clarion.config import Settings
from clarion.core.contracts import EmailCopy, FieldsCopy, PushCopy, TextCopy
from clarion.core.model import Channel
from clarion.service import ConfigError, Service
from tests.peers.keys import vapid_key
from tests.unit.test_catalog_errors import MESSAGE, write

SID = "AC" + "0" * 32
TWILIO = {"account_sid": SID, "auth_token": "tok", "default_sender": "+15005550006"}


def _configs() -> dict[str, dict[str, object]]:
    """One config of every provider type, named for it (a test checks none is missing)."""
    webpush = {"vapid_private_key": vapid_key().private_raw, "vapid_subject": "mailto:o@x.com"}
    return {
        "sink": {"type": "sink", "path": "/tmp/never-written.jsonl"},
        "webhook": {"type": "webhook", "url": "https://hooks.example.com/in", "secret": "s"},
        "inapp": {"type": "inapp"},
        "push": {"type": "push", "webpush": webpush},
        "smtp": {"type": "smtp", "host": "smtp.example.com", "from_address": "a@example.com"},
        "twilio_sms": {"type": "twilio_sms", **TWILIO},
        "twilio_voice": {"type": "twilio_voice", **TWILIO},
    }


def _providers() -> dict[str, Provider]:
    return build_providers(parse_provider_configs(_configs()))


def _close(providers: dict[str, Provider]) -> None:
    for provider in providers.values():
        asyncio.run(provider.aclose())


def test_every_provider_type_declares_the_channels_it_serves() -> None:
    assert set(_configs()) == set(BUILDERS) == {t.value for t in ProviderType}
    providers = _providers()
    served = {name: type(p).channels for name, p in providers.items()}
    _close(providers)
    assert all(isinstance(c, frozenset) and c <= set(Channel) and c for c in served.values())
    assert served == {
        "sink": frozenset(Channel),
        "webhook": frozenset(Channel),
        "inapp": {Channel.INAPP},
        "push": {Channel.PUSH},
        "smtp": {Channel.EMAIL},
        "twilio_sms": {Channel.SMS},
        "twilio_voice": {Channel.VOICE},
    }


def test_a_route_of_sms_to_the_inapp_provider_is_refused() -> None:
    providers = _providers()
    _close(providers)
    routes = {Channel.SMS: ["twilio_sms", "inapp"], Channel.EMAIL: ["smtp", "sink"]}
    assert misrouted(routes, None, providers) == [
        "routes.sms sends sms to 'inapp', which serves inapp only"
    ]
    assert misrouted({Channel.VOICE: ["twilio_voice", "webhook"]}, None, providers) == []


def test_a_catalog_step_naming_a_provider_of_another_channel_is_refused(tmp_path: Path) -> None:
    step = "  - channel: sms\n    content: {body: greeting.title}\n    provider: [twilio_voice]\n"
    catalog = load_catalog(
        write(tmp_path, {"messages/ok.yaml": MESSAGE.format(name="ok", id=1) + step})
    )
    providers = _providers()
    _close(providers)
    assert misrouted({}, catalog.spec, providers) == [
        "messages/ok.yaml: channels[1].provider sends sms to 'twilio_voice', "
        "which serves voice only"
    ]


def test_unknown_provider_names_are_left_to_the_unknown_provider_check() -> None:
    assert misrouted({Channel.SMS: ["nowhere"]}, None, {}) == []


def test_the_service_refuses_to_start(db_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=db_url,
        catalog=write(tmp_path / "catalog", {}),
        routes={"sms": "inapp"},
        run_workers=False,
    )
    with pytest.raises(ConfigError, match=r"routes\.sms sends sms to 'inapp', which serves inapp"):
        Service(settings)


def _outgoing(channel: Channel, fields: dict[str, str]) -> Outgoing:
    return Outgoing("G1", channel, "m", 1, "account", "p1", "en", fields, phone="+15005550006")


def test_what_reaches_a_provider_is_copy_typed_by_its_channel() -> None:
    both = {"subject": "S", "title": "T", "body": "B"}
    assert _outgoing(Channel.EMAIL, both).content == EmailCopy("S", "B")
    assert _outgoing(Channel.PUSH, both).content == PushCopy("T", "B")
    assert _outgoing(Channel.SMS, both).content == TextCopy("B")
    assert _outgoing(Channel.VOICE, {"a": "one", "b": "two"}).content == TextCopy("one\ntwo")
    assert _outgoing(Channel.WEBHOOK, both).content == FieldsCopy(both)
    assert _outgoing(Channel.INAPP, both).content == FieldsCopy(both)


def test_a_provider_handed_another_channel_refuses_it() -> None:
    sms = _outgoing(Channel.SMS, {"body": "B"})
    with pytest.raises(PermanentError, match="email cannot send a sms message"):
        render(sms)
    with pytest.raises(PermanentError, match="push cannot send a sms message"):
        notification_of(sms, 60)
    with pytest.raises(PermanentError, match="Twilio cannot send a email message"):
        copy_of(_outgoing(Channel.EMAIL, {"subject": "S", "body": "B"}))
