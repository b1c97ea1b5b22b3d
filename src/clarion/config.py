"""Configuration from ``CLARION_*`` environment variables and an optional TOML file.

The TOML file is named by ``CLARION_CONFIG``; environment variables win over it.
Secrets (API keys, provider credentials) come only from here and are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clarion.channels.email_tracking import EmailTracking
from clarion.channels.provider_config import (
    InAppConfig,
    ProviderConfig,
    SinkConfig,
    TwilioAccountConfig,
)
from clarion.core.model import Channel
from clarion.inapp.federated import FederatedAction
from clarion.signing import KeyRing
from clarion.store.sql.engine import Timeouts


def _default_providers() -> dict[str, ProviderConfig]:
    return {
        "sink": SinkConfig(type="sink", path=Path("var/sink.jsonl")),
        "inapp": InAppConfig(type="inapp"),
    }


class Settings(BaseSettings):
    """Everything Clarion reads at start-up."""

    model_config = SettingsConfigDict(env_prefix="CLARION_", env_nested_delimiter="__")

    database_url: str = "sqlite:///var/clarion.db"
    catalog: Path = Path("catalog")
    host: str = "127.0.0.1"
    port: int = 8080
    #: Comma-separated in the environment (``CLARION_API_KEYS=k1,k2``).
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    providers: dict[str, ProviderConfig] = Field(default_factory=_default_providers)
    #: Which providers each channel uses unless a catalog step names its own: one
    #: name, or a list (primary first, then fallbacks; docs/delivery.md). Channels
    #: not named here use the provider called "sink" (in-app: "inapp", if configured).
    routes: dict[Channel, list[str]] = Field(default_factory=dict)
    #: Attempts ending in transient errors each provider of a route gets before
    #: the next takes over.
    failover_after_attempts: int = Field(default=2, ge=1)
    #: The longest a send waits for its provider's rate limit within a batch (at
    #: most half the message lease); a message whose slot is further off is
    #: rescheduled for it.
    rate_limit_max_wait_seconds: float = Field(default=1.0, ge=0)
    #: How many dispatching processes share each provider's rate limit: each
    #: enforces 1/N of it. ``worker_processes`` sets it for its children; set it
    #: yourself when running several ``clarion worker`` processes.
    rate_limit_share: int = Field(default=1, ge=1)
    run_workers: bool = True
    #: With ``run_workers``: 0 runs the workers as threads of the API's process (one
    #: interpreter, so together at most one core); N > 0 runs them in N child
    #: processes on the same database instead, so the API and the workers use
    #: separate cores (``clarion.runtime.processes``).
    worker_processes: int = Field(default=0, ge=0)
    #: Processes serving the API on one port (``SO_REUSEPORT``): the ``serve``
    #: process and N - 1 children that serve the API only (``clarion.api.processes``).
    api_processes: int = Field(default=1, ge=1, le=64)
    orchestrator_batch: int = 500
    #: How far into the future an event's ``occurred_at`` may be (clients' clocks
    #: run fast); later ones, and any before 1970, are refused with 422.
    event_max_future_seconds: float = Field(default=3600.0, ge=0)
    #: An event whose processing raises is retried alone, this many times in all
    #: with a capped exponential backoff between tries, then dead-lettered.
    event_max_attempts: int = Field(default=5, ge=1)
    event_retry_base_seconds: float = Field(default=1.0, ge=0)
    event_retry_cap_seconds: float = Field(default=60.0, ge=0)
    #: The largest request bodies accepted, in bytes (larger: 413, unread): one
    #: event, a batch (up to 1,000 events), a profile or device, a device's feedback
    #: post, and any other route.
    max_event_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_profile_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_feedback_body_bytes: int = Field(default=16 * 1024, ge=1024)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    dispatcher_batch: int = 500
    dispatcher_concurrency: int = 256
    event_lease_seconds: float = 30.0
    message_lease_seconds: float = 60.0
    #: How long an orchestrator holds its partitions of profiles without renewing
    #: (it renews every third of it): a dead worker's profiles move to the others
    #: this long after its last renewal (``docs/scaling.md``).
    partition_lease_seconds: float = Field(default=15.0, gt=0)
    poll_interval_seconds: float = 0.05
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 300.0
    retry_max_attempts: int = 8
    catalog_reload_seconds: float = 2.0
    #: How often the orchestrator's worker looks for escalation ladders to move on
    #: (a rung failed, or was not confirmed delivered within its timeout).
    escalation_poll_seconds: float = Field(default=1.0, gt=0)
    escalation_batch: int = Field(default=500, ge=1)
    sqlite_synchronous: str = "NORMAL"
    #: The longest an API request's database call may take (and may wait for a
    #: pooled connection) before the request is answered 503 with ``Retry-After``.
    database_timeout_seconds: float = Field(default=1.5, gt=0)
    #: The same for every other database call (the workers' batches), and
    #: PostgreSQL's ``statement_timeout``.
    database_call_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Connecting to PostgreSQL (whole seconds; libpq's minimum is 2).
    database_connect_timeout_seconds: int = Field(default=2, ge=2)
    #: SQLite: how long a write waits for another connection's or process's write lock.
    sqlite_busy_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Device tokens (HS256 JWTs naming one profile) are signed by the customer's
    #: backend with one of these shared secrets (key id -> secret; "default" for
    #: tokens without a ``kid``). No secret: device endpoints are refused.
    device_token_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    device_token_audience: str | None = None
    #: Keys that sign in-app feedback objects (key id -> secret of 32+ bytes); the
    #: active one signs, all verify. None configured: a random key per start.
    feedback_keys: dict[str, SecretStr] = Field(default_factory=dict)
    feedback_active_key: str | None = None
    inapp_max_alerts: int = Field(default=3, ge=1, le=20)
    #: BACKEND CTA actions Clarion carries out itself, by action name.
    federated_actions: dict[str, FederatedAction] = Field(default_factory=dict)
    #: Where mail clients reach this Clarion: email open pixels and click redirects
    #: point here. Unset: emails go out without tracking. Twilio providers without
    #: a ``public_url`` of their own send their status callbacks here too.
    public_url: HttpUrl | None = None
    #: Keys that sign tracking URLs (key id -> secret of 32+ bytes; ids of letters,
    #: digits, ``_`` and ``-``); the active one signs, all verify. Required with
    #: ``public_url``: links in sent emails must keep working across restarts.
    tracking_keys: dict[str, SecretStr] = Field(default_factory=dict)
    tracking_active_key: str | None = None
    #: How long an email's tracking links work (clicks after that answer 410).
    tracking_ttl_days: float = Field(default=180, gt=0)
    #: Origins whose pages may call the device routes (in-app, the web SDK); no
    #: other route answers cross-origin requests.
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    #: ``/metrics`` answers only requests with an API key.
    metrics_require_key: bool = False
    #: ``/docs``, ``/redoc`` and ``/openapi.json`` answer only requests with an API key.
    docs_require_key: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    log_requests: bool = False

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("routes", mode="before")
    @classmethod
    def _single_names(cls, value: object) -> object:
        # A channel may name one provider or a list of them.
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("routes")
    @classmethod
    def _non_empty_routes(cls, value: dict[Channel, list[str]]) -> dict[Channel, list[str]]:
        empty = sorted(channel.value for channel, names in value.items() if not names)
        if empty:
            raise ValueError(f"channels {empty} name no provider")
        return value

    @model_validator(mode="after")
    def _complete_routes(self) -> Settings:
        inapp = "inapp" if "inapp" in self.providers else "sink"
        self.routes = {
            channel: self.routes.get(channel, [inapp if channel is Channel.INAPP else "sink"])
            for channel in Channel
        }
        return self

    @model_validator(mode="after")
    def _twilio_callbacks(self) -> Settings:
        """Twilio providers without a ``public_url`` of their own take Clarion's, so
        their status callbacks come back here."""
        if self.public_url is not None:
            self.providers = {
                name: config.model_copy(update={"public_url": self.public_url})
                if isinstance(config, TwilioAccountConfig) and config.public_url is None
                else config
                for name, config in self.providers.items()
            }
        return self

    @model_validator(mode="after")
    def _check_tracking(self) -> Settings:
        if self.public_url is not None:
            self.email_tracking(datetime.now)  # raises ValueError when misconfigured
        return self

    def email_tracking(self, clock: Callable[[], datetime]) -> EmailTracking | None:
        """The signer of email tracking URLs, or None without a ``public_url``."""
        if self.public_url is None:
            return None
        if not self.tracking_keys:
            raise ValueError(
                "public_url turns on email tracking, which needs tracking_keys "
                '(CLARION_TRACKING_KEYS=\'{"k1": "<32+ byte secret>"}\')'
            )
        keys = {kid: s.get_secret_value().encode() for kid, s in self.tracking_keys.items()}
        ring = KeyRing(keys, self.tracking_active_key or sorted(keys)[-1])
        ttl = timedelta(days=self.tracking_ttl_days)
        return EmailTracking(str(self.public_url), ring, clock, ttl)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CLARION_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def database_timeouts(self) -> Timeouts:
        return Timeouts(
            connect=self.database_connect_timeout_seconds,
            request=self.database_timeout_seconds,
            call=self.database_call_timeout_seconds,
            sqlite_busy=self.sqlite_busy_timeout_seconds,
        )

    def key_values(self) -> list[str]:
        return [k.get_secret_value() for k in self.api_keys]
