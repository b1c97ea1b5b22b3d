"""Provider configuration and the factory that turns it into providers.

``ProviderConfig`` is a pydantic discriminated union on ``type`` so the app's
settings can embed a ``dict[str, ProviderConfig]`` directly. ``BUILDERS`` maps
every ``ProviderType`` to the function that builds it; a test checks that no
type is missing. Every config derives from ``ProviderOptions``, the settings all
providers share (a rate limit); a test checks that too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    TypeAdapter,
)

from clarion.channels.base import Provider
from clarion.channels.inapp import InAppProvider
from clarion.channels.sink import SinkProvider
from clarion.channels.webhook import WebhookProvider


class ProviderType(StrEnum):
    """Every kind of provider Clarion can build from configuration."""

    SINK = "sink"
    WEBHOOK = "webhook"
    INAPP = "inapp"


class RateLimitConfig(BaseModel):
    """A provider's send rate: ``burst`` at once, ``per_second`` on average
    (docs/delivery.md, "Rate limits")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_second: PositiveFloat
    burst: PositiveInt = 1


class ProviderOptions(BaseModel):
    """Settings every provider config has, whatever its type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: None: no limit of Clarion's own (a provider's Retry-After still pauses it).
    rate_limit: RateLimitConfig | None = None


class SinkConfig(ProviderOptions):
    """A JSON-lines file that every message is appended to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal[ProviderType.SINK] = ProviderType.SINK
    path: Path


class WebhookConfig(ProviderOptions):
    """An HTTP endpoint that receives each message as signed JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal[ProviderType.WEBHOOK] = ProviderType.WEBHOOK
    url: HttpUrl
    secret: SecretStr  # SecretStr keeps it out of reprs, logs and model dumps
    timeout: PositiveFloat = 10.0


class InAppConfig(ProviderOptions):
    """The in-app store: messages wait there until a device fetches them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal[ProviderType.INAPP] = ProviderType.INAPP


ProviderConfig = Annotated[SinkConfig | WebhookConfig | InAppConfig, Field(discriminator="type")]

_CONFIGS: TypeAdapter[dict[str, ProviderConfig]] = TypeAdapter(dict[str, ProviderConfig])


def _build_sink(name: str, config: SinkConfig) -> Provider:
    return SinkProvider(config.path, name=name)


def _build_webhook(name: str, config: WebhookConfig) -> Provider:
    return WebhookProvider(
        str(config.url), config.secret.get_secret_value(), name=name, timeout=config.timeout
    )


def _build_inapp(name: str, config: InAppConfig) -> Provider:
    return InAppProvider(name)


# Each builder takes the config model of its own type; ``build_provider`` looks the
# builder up by ``config.type``, so the pairing holds by construction (``Any`` because
# a mapping's value type cannot vary with its key).
BUILDERS: Mapping[ProviderType, Callable[[str, Any], Provider]] = {
    ProviderType.SINK: _build_sink,
    ProviderType.WEBHOOK: _build_webhook,
    ProviderType.INAPP: _build_inapp,
}


def parse_provider_configs(raw: Mapping[str, object]) -> dict[str, ProviderConfig]:
    """Validate provider configs by name, e.g. from a settings file."""
    return _CONFIGS.validate_python(raw)


def build_provider(name: str, config: ProviderConfig) -> Provider:
    """The provider ``config`` describes, named ``name``."""
    return BUILDERS[config.type](name, config)


def rate_limits(configs: Mapping[str, ProviderConfig]) -> dict[str, RateLimitConfig]:
    """The configured rate limits, by provider name."""
    return {name: c.rate_limit for name, c in configs.items() if c.rate_limit is not None}


def build_providers(configs: Mapping[str, ProviderConfig]) -> dict[str, Provider]:
    """One provider per configured name."""
    return {name: build_provider(name, config) for name, config in configs.items()}
