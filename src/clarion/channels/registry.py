"""The factory that turns provider configuration into providers.

``BUILDERS`` maps every ``ProviderType`` to the function that builds it; a test
checks that no type is missing. Every builder takes the provider's name, its
config model (``clarion.channels.provider_config``) and the ``ProviderContext``:
what some providers need from the running Clarion beyond their configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from clarion.channels.base import Provider
from clarion.channels.email import SmtpProvider, SmtpServer
from clarion.channels.email_render import Sender, Tracking
from clarion.channels.email_tracking import EmailTracking
from clarion.channels.inapp import InAppProvider
from clarion.channels.provider_config import (
    EmailConfig,
    InAppConfig,
    ProviderConfig,
    ProviderType,
    PushConfig,
    SinkConfig,
    TwilioSmsConfig,
    TwilioVoiceConfig,
    WebhookConfig,
)
from clarion.channels.push import PushTokens
from clarion.channels.push_config import build_push
from clarion.channels.sink import SinkProvider
from clarion.channels.twilio_sms import TwilioSmsProvider
from clarion.channels.twilio_voice import TwilioVoiceProvider
from clarion.channels.webhook import WebhookProvider


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What providers take from the running Clarion rather than from their config.

    ``tokens`` (the store) is where push providers remove the device tokens their
    services report dead; ``links`` signs email tracking URLs (None: untracked).
    """

    tokens: PushTokens | None = None
    links: EmailTracking | None = None


def _build_sink(name: str, config: SinkConfig, context: ProviderContext) -> Provider:
    return SinkProvider(config.path, name=name)


def _build_webhook(name: str, config: WebhookConfig, context: ProviderContext) -> Provider:
    return WebhookProvider(
        str(config.url), config.secret.get_secret_value(), name=name, timeout=config.timeout
    )


def _build_inapp(name: str, config: InAppConfig, context: ProviderContext) -> Provider:
    return InAppProvider(name)


def _build_push(name: str, config: PushConfig, context: ProviderContext) -> Provider:
    return build_push(name, config, context.tokens)


def _build_twilio_sms(name: str, config: TwilioSmsConfig, context: ProviderContext) -> Provider:
    return TwilioSmsProvider(
        config.client(), config.sender_map(), name=name, status_callback=config.status_callback()
    )


def _build_twilio_voice(name: str, config: TwilioVoiceConfig, context: ProviderContext) -> Provider:
    return TwilioVoiceProvider(
        config.client(),
        config.sender_map(),
        name=name,
        status_callback=config.status_callback(),
        voices=config.voices,
    )


def _build_email(name: str, config: EmailConfig, context: ProviderContext) -> Provider:
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
    if context.links is not None and (config.track_opens or config.track_clicks):
        tracking = Tracking(context.links, opens=config.track_opens, clicks=config.track_clicks)
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
BUILDERS: Mapping[ProviderType, Callable[[str, Any, ProviderContext], Provider]] = {
    ProviderType.SINK: _build_sink,
    ProviderType.WEBHOOK: _build_webhook,
    ProviderType.INAPP: _build_inapp,
    ProviderType.PUSH: _build_push,
    ProviderType.EMAIL: _build_email,
    ProviderType.TWILIO_SMS: _build_twilio_sms,
    ProviderType.TWILIO_VOICE: _build_twilio_voice,
}

_NO_CONTEXT = ProviderContext()


def build_provider(
    name: str, config: ProviderConfig, context: ProviderContext = _NO_CONTEXT
) -> Provider:
    """The provider ``config`` describes, named ``name``."""
    return BUILDERS[config.type](name, config, context)


def build_providers(
    configs: Mapping[str, ProviderConfig], context: ProviderContext = _NO_CONTEXT
) -> dict[str, Provider]:
    """One provider per configured name, each built with ``context``."""
    return {name: build_provider(name, config, context) for name, config in configs.items()}
