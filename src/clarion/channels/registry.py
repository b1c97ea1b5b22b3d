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
from clarion.channels.email import SmtpProvider, SmtpServer, TlsMode
from clarion.channels.email_render import Sender, Tracking
from clarion.channels.email_tracking import EmailTracking
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
    EMAIL = "smtp"


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


#: An email address as SMTP envelopes and headers take it (deliberately loose:
#: the server has the last word, and answers 5xx for what it will not take).
EmailAddress = Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$", max_length=254)]


class EmailConfig(BaseModel):
    """An SMTP server that email goes out through; see docs/email.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal[ProviderType.EMAIL] = ProviderType.EMAIL
    host: str = Field(min_length=1)
    #: Default: 25 with ``tls = "none"``, 587 with STARTTLS, 465 with implicit TLS.
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: TlsMode = "starttls"
    #: False accepts any server certificate: for test servers only.
    verify_certificates: bool = True
    ca_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    from_address: EmailAddress
    from_name: str | None = None
    reply_to: EmailAddress | None = None
    #: ``List-Unsubscribe`` URL (https: or mailto:); ``{profile_id}`` and ``{guid}``
    #: are filled in per message.
    unsubscribe_url: str | None = Field(default=None, pattern=r"^(https?://|mailto:)\S+$")
    pool_size: int = Field(default=4, ge=1, le=64)
    max_messages_per_connection: int = Field(default=100, ge=1)
    max_idle_seconds: PositiveFloat = 60.0
    timeout: PositiveFloat = 30.0
    local_hostname: str | None = None
    #: Open pixel and click redirects, when Clarion has a public URL (``CLARION_PUBLIC_URL``).
    track_opens: bool = True
    track_clicks: bool = True


ProviderConfig = Annotated[
    SinkConfig | WebhookConfig | InAppConfig | PushConfig | EmailConfig, Field(discriminator="type")
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


def build_email(name: str, config: EmailConfig, links: EmailTracking | None = None) -> Provider:
    """The SMTP provider ``config`` describes; ``links`` signs its tracking URLs."""
    server = SmtpServer(
        host=config.host,
        port=config.port,
        tls=config.tls,
        verify=config.verify_certificates,
        ca_file=str(config.ca_file) if config.ca_file else None,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        timeout=config.timeout,
        local_hostname=config.local_hostname,
    )
    sender = Sender(config.from_address, config.from_name, config.reply_to, config.unsubscribe_url)
    tracking = None
    if links is not None and (config.track_opens or config.track_clicks):
        tracking = Tracking(links, opens=config.track_opens, clicks=config.track_clicks)
    return SmtpProvider(
        server,
        sender,
        name=name,
        tracking=tracking,
        pool_size=config.pool_size,
        max_messages=config.max_messages_per_connection,
        max_idle=config.max_idle_seconds,
    )


# Each builder takes the config model of its own type; ``build_provider`` looks the
# builder up by ``config.type``, so the pairing holds by construction (``Any`` because
# a mapping's value type cannot vary with its key).
BUILDERS: Mapping[ProviderType, Callable[[str, Any], Provider]] = {
    ProviderType.SINK: _build_sink,
    ProviderType.WEBHOOK: _build_webhook,
    ProviderType.INAPP: _build_inapp,
    ProviderType.PUSH: build_push,
    ProviderType.EMAIL: build_email,
}


def parse_provider_configs(raw: Mapping[str, object]) -> dict[str, ProviderConfig]:
    """Validate provider configs by name, e.g. from a settings file."""
    return _CONFIGS.validate_python(raw)


def build_provider(
    name: str, config: ProviderConfig, *, links: EmailTracking | None = None
) -> Provider:
    """The provider ``config`` describes, named ``name``.

    ``links`` signs email tracking URLs; email is the one channel whose messages
    call back into Clarion, so only its builder takes them.
    """
    if isinstance(config, EmailConfig):
        return build_email(name, config, links)
    return BUILDERS[config.type](name, config)


def build_providers(
    configs: Mapping[str, ProviderConfig],
    *,
    tokens: PushTokens | None = None,
    links: EmailTracking | None = None,
) -> dict[str, Provider]:
    """One provider per configured name. ``tokens`` (the store) is where push
    providers remove the device tokens their services report dead; ``links`` signs
    email tracking URLs."""
    providers = {
        name: build_provider(name, config, links=links) for name, config in configs.items()
    }
    for provider in providers.values():
        if isinstance(provider, PushProvider):
            provider.tokens = tokens
    return providers
