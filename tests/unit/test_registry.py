import asyncio
import typing
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from clarion.channels.email import SmtpProvider
from clarion.channels.email_tracking import EmailTracking
from clarion.channels.provider_config import (
    EmailConfig,
    ProviderConfig,
    ProviderType,
    PushConfig,
    SinkConfig,
    WebhookConfig,
    parse_provider_configs,
)
from clarion.channels.push import PushProvider
from clarion.channels.registry import BUILDERS, ProviderContext, build_providers
from clarion.channels.sink import SinkProvider
from clarion.channels.webhook import WebhookProvider
from clarion.signing import KeyRing
from tests.peers.keys import ec_key, rsa_key, service_account_file, vapid_key


def test_every_provider_type_has_a_builder() -> None:
    assert set(BUILDERS) == set(ProviderType)


def test_every_provider_type_has_a_config_model() -> None:
    union, _ = typing.get_args(ProviderConfig)
    models = typing.get_args(union)
    assert {model.model_fields["type"].default for model in models} == set(ProviderType)


def test_builds_one_provider_per_name(tmp_path: Path) -> None:
    configs = parse_provider_configs(
        {
            "file": {"type": "sink", "path": str(tmp_path / "sink.jsonl")},
            "partner": {"type": "webhook", "url": "https://hooks.example.com/in", "secret": "s3"},
        }
    )
    assert isinstance(configs["file"], SinkConfig)
    assert isinstance(configs["partner"], WebhookConfig)

    providers = build_providers(configs)

    assert isinstance(providers["file"], SinkProvider)
    assert isinstance(providers["partner"], WebhookProvider)
    assert providers["partner"].url == "https://hooks.example.com/in"
    assert {name: p.name for name, p in providers.items()} == {"file": "file", "partner": "partner"}
    for provider in providers.values():
        asyncio.run(provider.aclose())


def test_builds_an_smtp_provider_with_tracking_when_given_links() -> None:
    configs = parse_provider_configs(
        {
            "mail": {
                "type": "smtp",
                "host": "smtp.example.com",
                "username": "u",
                "password": "hunter2",
                "from_address": "alerts@example.com",
                "from_name": "Example",
                "track_clicks": False,
            }
        }
    )
    config = configs["mail"]
    assert isinstance(config, EmailConfig)
    assert "hunter2" not in repr(config) and "hunter2" not in config.model_dump_json()
    links = EmailTracking("https://t.example.com", KeyRing({"k": b"k" * 32}, "k"), datetime.now)

    plain = build_providers(configs)["mail"]
    tracked = build_providers(configs, ProviderContext(links=links))["mail"]

    assert isinstance(plain, SmtpProvider) and isinstance(tracked, SmtpProvider)
    assert plain.tracking is None
    assert tracked.tracking is not None
    assert (tracked.tracking.opens, tracked.tracking.clicks) == (True, False)
    assert tracked.server.password == "hunter2" and tracked.server.port is None
    assert tracked.sender.address == "alerts@example.com"
    assert tracked.idempotent is False


def test_secrets_stay_out_of_reprs_and_dumps() -> None:
    config = WebhookConfig(url="https://example.com/", secret="hunter2")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.model_dump())
    assert "hunter2" not in config.model_dump_json()


@pytest.mark.parametrize(
    "raw",
    [
        {"x": {"type": "carrier-pigeon"}},
        {"x": {"path": "/tmp/no-type.jsonl"}},
        {"x": {"type": "webhook", "url": "not a url", "secret": "s"}},
        {"x": {"type": "webhook", "url": "https://example.com/"}},
        {"x": {"type": "sink", "path": "/tmp/a.jsonl", "extra": 1}},
        {"x": {"type": "smtp", "host": "smtp.example.com"}},
        {"x": {"type": "smtp", "host": "h", "from_address": "not an address"}},
        {"x": {"type": "smtp", "host": "h", "from_address": "a@b.c", "tls": "ssl3"}},
        {"x": {"type": "smtp", "host": "h", "from_address": "a@b.c", "unsubscribe_url": "ftp://x"}},
    ],
)
def test_rejects_invalid_configs(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_provider_configs(raw)


def test_builds_a_push_provider_with_its_services(tmp_path: Path) -> None:
    p8 = tmp_path / "AuthKey.p8"
    p8.write_text(ec_key().private_pem)
    account = service_account_file(tmp_path / "sa.json", rsa_key(), "https://oauth2.example/token")
    configs = parse_provider_configs(
        {
            "push": {
                "type": "push",
                "apns": {"team_id": "T", "key_id": "K", "private_key_path": str(p8),
                         "topic": "com.example.app"},
                "fcm": {"service_account_path": str(account)},
                "webpush": {"vapid_private_key": vapid_key().private_raw,
                            "vapid_subject": "mailto:ops@example.com"},
            }
        }
    )  # fmt: skip
    config = configs["push"]
    assert isinstance(config, PushConfig)
    assert config.routes() == {"ios": "apns", "android": "fcm", "web": "webpush"}
    tokens = object()
    context = ProviderContext(tokens=tokens)  # type: ignore[arg-type]
    provider = build_providers(configs, context)["push"]
    assert isinstance(provider, PushProvider)
    assert provider.name == "push" and provider.tokens is tokens
    asyncio.run(provider.aclose())


@pytest.mark.parametrize(
    "push",
    [
        {},  # no service at all
        {"apns": {"team_id": "T", "key_id": "K", "topic": "t"}},  # no key
        {"webpush": {"vapid_private_key": "k", "vapid_subject": "ops@example.com"}},
        {
            "webpush": {"vapid_private_key": "k", "vapid_subject": "mailto:a@b.c"},
            "platforms": {"ios": "apns"},  # routes to a service not configured
        },
    ],
)
def test_rejects_invalid_push_configs(push: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_provider_configs({"push": {"type": "push", **push}})


def test_push_secrets_stay_out_of_reprs() -> None:
    key = ec_key().private_pem
    config = PushConfig(
        apns={"team_id": "T", "key_id": "K", "private_key": key, "topic": "t"},
    )
    assert config.routes() == {"ios": "apns"}  # the default, for the services configured
    assert "PRIVATE KEY" not in repr(config)
    assert "PRIVATE KEY" not in config.model_dump_json()
