"""Provider configuration: one pydantic model per provider type.

``ProviderConfig`` is a discriminated union on ``type`` so the app's settings can
embed a ``dict[str, ProviderConfig]`` directly. Every config derives from
``ProviderOptions``, the settings all providers share (a rate limit); a test
checks that. ``clarion.channels.registry`` turns these into providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

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

from clarion.channels.email import TlsMode
from clarion.channels.push_config import PushServicesConfig
from clarion.channels.twilio_client import DEFAULT_BASE_URL, Senders, TwilioClient, callback_url


class ProviderType(StrEnum):
    """Every kind of provider Clarion can build from configuration."""

    SINK = "sink"
    WEBHOOK = "webhook"
    INAPP = "inapp"
    PUSH = "push"
    EMAIL = "smtp"
    TWILIO_SMS = "twilio_sms"
    TWILIO_VOICE = "twilio_voice"


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


class PushConfig(PushServicesConfig, ProviderOptions):
    """Push to iOS (APNs), Android (FCM) and browsers (Web Push): see ``push_config``."""

    type: Literal[ProviderType.PUSH] = ProviderType.PUSH


#: An email address as SMTP envelopes and headers take it (deliberately loose:
#: the server has the last word, and answers 5xx for what it will not take).
EmailAddress = Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$", max_length=254)]


class EmailConfig(ProviderOptions):
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


class TwilioAccountConfig(ProviderOptions):
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


ProviderConfig = Annotated[
    SinkConfig
    | WebhookConfig
    | InAppConfig
    | PushConfig
    | EmailConfig
    | TwilioSmsConfig
    | TwilioVoiceConfig,
    Field(discriminator="type"),
]

_CONFIGS: TypeAdapter[dict[str, ProviderConfig]] = TypeAdapter(dict[str, ProviderConfig])


def parse_provider_configs(raw: Mapping[str, object]) -> dict[str, ProviderConfig]:
    """Validate provider configs by name, e.g. from a settings file."""
    return _CONFIGS.validate_python(raw)


def rate_limits(configs: Mapping[str, ProviderConfig]) -> dict[str, RateLimitConfig]:
    """The configured rate limits, by provider name."""
    return {name: c.rate_limit for name, c in configs.items() if c.rate_limit is not None}
