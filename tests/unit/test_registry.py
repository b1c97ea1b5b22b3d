import asyncio
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from clarion.channels.registry import (
    BUILDERS,
    ProviderConfig,
    ProviderType,
    SinkConfig,
    WebhookConfig,
    build_providers,
    parse_provider_configs,
)
from clarion.channels.sink import SinkProvider
from clarion.channels.webhook import WebhookProvider


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
    ],
)
def test_rejects_invalid_configs(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_provider_configs(raw)
