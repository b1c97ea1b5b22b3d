"""Configuring delivery: provider lists on routes and catalog steps, rate limits."""

import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from clarion.catalog import load_catalog
from clarion.channels.provider_config import (
    ProviderConfig,
    ProviderOptions,
    RateLimitConfig,
    parse_provider_configs,
    rate_limits,
)
from clarion.config import Settings
from clarion.core.model import Channel
from clarion.runtime.processes import child_settings
from tests.unit.test_catalog_errors import MESSAGE, only_issue, write

STEP = "  - channel: sms\n    content: {{body: greeting.title}}\n    provider: {provider}\n"


def _step_catalog(root: Path, provider: str) -> Path:
    text = MESSAGE.format(name="ok", id=1) + STEP.format(provider=provider)
    return write(root, {"messages/ok.yaml": text})


def test_a_step_names_one_provider_or_a_route_of_them(tmp_path: Path) -> None:
    one = load_catalog(_step_catalog(tmp_path / "one", "twilio_main"))
    step = one.spec.messages["ok"].channels[1]
    assert (step.provider, step.fallbacks) == ("twilio_main", ())
    many = load_catalog(_step_catalog(tmp_path / "many", "[twilio_main, twilio_backup, vonage]"))
    step = many.spec.messages["ok"].channels[1]
    assert (step.provider, step.fallbacks) == ("twilio_main", ("twilio_backup", "vonage"))
    assert many.spec.messages["ok"].channels[0].provider is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("[]", "channels[1].provider: expected a provider name or a non-empty list of them"),
        ("[main, 3]", "channels[1].provider[1]: expected a non-empty string, got 3"),
    ],
)
def test_a_bad_provider_list_names_the_key(tmp_path: Path, value: str, problem: str) -> None:
    assert str(only_issue(_step_catalog(tmp_path, value))) == f"messages/ok.yaml: {problem}"


def test_routes_take_a_name_or_a_list_and_fill_in_the_rest() -> None:
    settings = Settings(routes={"sms": ["twilio_main", "twilio_backup"], "email": "smtp"})
    assert settings.routes[Channel.SMS] == ["twilio_main", "twilio_backup"]
    assert settings.routes[Channel.EMAIL] == ["smtp"]
    assert settings.routes[Channel.PUSH] == ["sink"]
    assert settings.routes[Channel.INAPP] == ["inapp"]


def test_a_route_without_providers_is_refused() -> None:
    with pytest.raises(ValidationError, match="name no provider"):
        Settings(routes={"sms": []})


def test_every_provider_config_has_the_common_options() -> None:
    union, _ = typing.get_args(ProviderConfig)
    assert all(issubclass(model, ProviderOptions) for model in typing.get_args(union))


def test_rate_limits_come_from_the_provider_configs(tmp_path: Path) -> None:
    configs = parse_provider_configs(
        {
            "file": {"type": "sink", "path": str(tmp_path / "s.jsonl")},
            "hook": {
                "type": "webhook",
                "url": "https://hooks.example.com/in",
                "secret": "s",
                "rate_limit": {"per_second": 50, "burst": 100},
            },
        }
    )
    assert rate_limits(configs) == {"hook": RateLimitConfig(per_second=50, burst=100)}


def test_a_bad_rate_limit_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_provider_configs({"inbox": {"type": "inapp", "rate_limit": {"per_second": 0}}})
    assert caught.value.errors()[0]["loc"] == ("inbox", "inapp", "rate_limit", "per_second")


def test_worker_processes_divide_rate_limits_among_the_children_that_dispatch() -> None:
    settings = Settings(worker_processes=3, rate_limit_share=2)
    shares = [child_settings(settings, n).rate_limit_share for n in (1, 2, 3)]
    assert shares == [2, 2, 4]  # 1 child: it dispatches; 2+: all but the orchestrator
    assert child_settings(settings, 3).worker_processes == 0
