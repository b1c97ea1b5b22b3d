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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    TypeAdapter,
    field_validator,
)

from clarion.channels.base import Provider
from clarion.channels.inapp import InAppProvider
from clarion.channels.sink import SinkProvider
from clarion.channels.twilio_client import DEFAULT_BASE_URL, Senders, TwilioClient, callback_url
from clarion.channels.twilio_sms import TwilioSmsProvider
from clarion.channels.twilio_voice import TwilioVoiceProvider
from clarion.channels.webhook import WebhookProvider


class ProviderType(StrEnum):
    """Every kind of provider Clarion can build from configuration."""

    SINK = "sink"
    WEBHOOK = "webhook"
    INAPP = "inapp"
    TWILIO_SMS = "twilio_sms"
    TWILIO_VOICE = "twilio_voice"


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


class TwilioAccountConfig(BaseModel):
    """A Twilio account and who messages come from; shared by SMS and voice.

    ``senders`` maps destination countries (ISO 3166 alpha-2) to a sender (a
    Twilio number in E.164, or an alphanumeric sender id where the country allows
    one); other countries get ``default_sender``. ``public_url`` is Clarion's
    public base URL: with it, Twilio posts status callbacks to
    ``<public_url>/v1/providers/twilio/status``; without it, messages stay "sent".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    default_sender: str = Field(min_length=1)
    senders: dict[str, str] = Field(default_factory=dict)
    base_url: HttpUrl = HttpUrl(DEFAULT_BASE_URL)
    public_url: HttpUrl | None = None
    timeout: PositiveFloat = 10.0
    #: Concurrent requests to Twilio; keep within the account's concurrency limit.
    max_connections: PositiveInt = 32

    @field_validator("senders")
    @classmethod
    def _countries(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [country for country in value if not (len(country) == 2 and country.isalpha())]
        if bad:
            raise ValueError(f"sender countries must be ISO 3166 alpha-2 codes, not {bad}")
        return {country.upper(): sender for country, sender in value.items()}

    def status_callback(self) -> str | None:
        """Where Twilio posts status callbacks, if Clarion's public URL is configured."""
        return callback_url(str(self.public_url) if self.public_url else None)

    def client(self) -> TwilioClient:
        """A REST client for this account."""
        return TwilioClient(
            self.account_sid,
            self.auth_token.get_secret_value(),
            base_url=str(self.base_url),
            timeout=self.timeout,
            max_connections=self.max_connections,
        )

    def sender_map(self) -> Senders:
        return Senders(self.default_sender, self.senders)


class TwilioSmsConfig(TwilioAccountConfig):
    """SMS through Twilio's Messages API."""

    type: Literal[ProviderType.TWILIO_SMS] = ProviderType.TWILIO_SMS


class TwilioVoiceConfig(TwilioAccountConfig):
    """Voice calls through Twilio's Calls API; ``voices`` names a ``<Say>`` voice per
    language (``{"pt-BR": "Polly.Camila"}``), else Twilio's default voice speaks."""

    type: Literal[ProviderType.TWILIO_VOICE] = ProviderType.TWILIO_VOICE
    voices: dict[str, str] = Field(default_factory=dict)


TWILIO_CONFIGS = (TwilioSmsConfig, TwilioVoiceConfig)

ProviderConfig = Annotated[
    SinkConfig | WebhookConfig | InAppConfig | TwilioSmsConfig | TwilioVoiceConfig,
    Field(discriminator="type"),
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


def _build_twilio_sms(name: str, config: TwilioSmsConfig) -> Provider:
    return TwilioSmsProvider(
        config.client(), config.sender_map(), name=name, status_callback=config.status_callback()
    )


def _build_twilio_voice(name: str, config: TwilioVoiceConfig) -> Provider:
    return TwilioVoiceProvider(
        config.client(),
        config.sender_map(),
        name=name,
        status_callback=config.status_callback(),
        voices=config.voices,
    )


# Each builder takes the config model of its own type; ``build_provider`` looks the
# builder up by ``config.type``, so the pairing holds by construction (``Any`` because
# a mapping's value type cannot vary with its key).
BUILDERS: Mapping[ProviderType, Callable[[str, Any], Provider]] = {
    ProviderType.SINK: _build_sink,
    ProviderType.WEBHOOK: _build_webhook,
    ProviderType.INAPP: _build_inapp,
    ProviderType.TWILIO_SMS: _build_twilio_sms,
    ProviderType.TWILIO_VOICE: _build_twilio_voice,
}


def parse_provider_configs(raw: Mapping[str, object]) -> dict[str, ProviderConfig]:
    """Validate provider configs by name, e.g. from a settings file."""
    return _CONFIGS.validate_python(raw)


def build_provider(name: str, config: ProviderConfig) -> Provider:
    """The provider ``config`` describes, named ``name``."""
    return BUILDERS[config.type](name, config)


def build_providers(configs: Mapping[str, ProviderConfig]) -> dict[str, Provider]:
    """One provider per configured name."""
    return {name: build_provider(name, config) for name, config in configs.items()}
