"""Twilio provider configs: parsing, validation, secrets, and what the builders make."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from clarion.channels.provider_config import (
    TwilioSmsConfig,
    TwilioVoiceConfig,
    parse_provider_configs,
)
from clarion.channels.registry import build_providers
from clarion.channels.twilio_sms import TwilioSmsProvider
from clarion.channels.twilio_voice import TwilioVoiceProvider
from clarion.config import Settings

SID = "AC" + "0" * 32
BASE = {"account_sid": SID, "auth_token": "tok-secret", "default_sender": "+15005550006"}


def test_builds_sms_and_voice_providers() -> None:
    configs = parse_provider_configs(
        {
            "sms": {**BASE, "type": "twilio_sms", "senders": {"br": "+5511400000000"}},
            "voice": {**BASE, "type": "twilio_voice", "voices": {"pt-BR": "Polly.Camila"}},
        }
    )
    assert isinstance(configs["sms"], TwilioSmsConfig)
    assert isinstance(configs["voice"], TwilioVoiceConfig)
    assert configs["sms"].senders == {"BR": "+5511400000000"}  # country codes normalized
    assert str(configs["sms"].base_url) == "https://api.twilio.com/"
    assert configs["sms"].status_callback() is None

    providers = build_providers(configs)

    assert isinstance(providers["sms"], TwilioSmsProvider)
    assert isinstance(providers["voice"], TwilioVoiceProvider)
    for provider in providers.values():
        asyncio.run(provider.aclose())


def test_status_callback_under_the_public_url() -> None:
    config = TwilioSmsConfig.model_validate({**BASE, "public_url": "https://c.example.com/cl/"})
    assert config.status_callback() == "https://c.example.com/cl/v1/providers/twilio/status"


def test_the_auth_token_stays_out_of_reprs_and_dumps() -> None:
    config = TwilioSmsConfig.model_validate(BASE)
    assert "tok-secret" not in repr(config)
    assert "tok-secret" not in config.model_dump_json()


@pytest.mark.parametrize(
    "change",
    [
        {"account_sid": "AC123"},  # not a Twilio account SID
        {"default_sender": ""},
        {"senders": {"Brazil": "+5511400000000"}},
        {"timeout": 0},
        {"unknown": 1},
    ],
)
def test_invalid_configs_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_provider_configs({"sms": {**BASE, "type": "twilio_sms", **change}})


def test_clarions_public_url_is_the_default_for_callbacks() -> None:
    own = {**BASE, "type": "twilio_sms", "public_url": "https://own.example.com"}
    settings = Settings(
        public_url="https://clarion.example.com",
        tracking_keys={"k1": "x" * 32},
        providers={"sms": {**BASE, "type": "twilio_sms"}, "own": own},
    )
    sms, mine = settings.providers["sms"], settings.providers["own"]
    assert isinstance(sms, TwilioSmsConfig) and isinstance(mine, TwilioSmsConfig)
    assert sms.status_callback() == "https://clarion.example.com/v1/providers/twilio/status"
    assert mine.status_callback() == "https://own.example.com/v1/providers/twilio/status"
