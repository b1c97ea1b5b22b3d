"""Provider configuration and the factory that turns it into providers.

``ProviderConfig`` is a pydantic discriminated union on ``type`` so the app's
settings can embed a ``dict[str, ProviderConfig]`` directly. ``BUILDERS`` maps
every ``ProviderType`` to the function that builds it; a test checks that no
type is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, PositiveFloat, SecretStr, TypeAdapter

from clarion.channels.base import Provider
from clarion.channels.inapp import InAppProvider
from clarion.channels.push import PushProvider, PushTokens
from clarion.channels.push_config import PushServicesConfig, build_push
from clarion.channels.sink import SinkProvider
from clarion.channels.webhook import WebhookProvider


class ProviderType(StrEnum):
    """Every kind of provider Clarion can build from configuration."""

    SINK = "sink"
    WEBHOOK = "webhook"
    INAPP = "inapp"
    PUSH = "push"


class SinkConfig(BaseModel):
    """A JSON-lines file that every message is appended to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal[ProviderType.SINK] = ProviderType.SINK
    path: Path


class WebhookConfig(BaseModel):
    """An HTTP endpoint that receives each message as signed JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal[ProviderType.WEBHOOK] = ProviderType.WEBHOOK
    url: HttpUrl
    secret: SecretStr  # SecretStr keeps it out of reprs, logs and model dumps
    timeout: PositiveFloat = 10.0


class InAppConfig(BaseModel):
    """The in-app store: messages wait there until a device fetches them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal[ProviderType.INAPP] = ProviderType.INAPP


class PushConfig(PushServicesConfig):
    """Push to iOS (APNs), Android (FCM) and browsers (Web Push): see ``push_config``."""

    type: Literal[ProviderType.PUSH] = ProviderType.PUSH


ProviderConfig = Annotated[
    SinkConfig | WebhookConfig | InAppConfig | PushConfig, Field(discriminator="type")
]

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
    ProviderType.PUSH: build_push,
}


def parse_provider_configs(raw: Mapping[str, object]) -> dict[str, ProviderConfig]:
    """Validate provider configs by name, e.g. from a settings file."""
    return _CONFIGS.validate_python(raw)


def build_provider(name: str, config: ProviderConfig) -> Provider:
    """The provider ``config`` describes, named ``name``."""
    return BUILDERS[config.type](name, config)


def build_providers(
    configs: Mapping[str, ProviderConfig], *, tokens: PushTokens | None = None
) -> dict[str, Provider]:
    """One provider per configured name. ``tokens`` (the store) is where push
    providers remove the device tokens their services report dead."""
    providers = {name: build_provider(name, config) for name, config in configs.items()}
    for provider in providers.values():
        if isinstance(provider, PushProvider):
            provider.tokens = tokens
    return providers
