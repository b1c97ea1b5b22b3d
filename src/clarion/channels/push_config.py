"""Configuration of the push provider's three services, and building it.

Every service is optional: configure the ones your apps use. Keys come from
configuration only (``SecretStr``) or from files named there.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, SecretStr, model_validator

from clarion.channels.apns import PRODUCTION_URL, ApnsAuth, ApnsClient
from clarion.channels.fcm import FCM_URL, FcmClient, load_service_account
from clarion.channels.push import DEFAULT_ROUTES, PushProvider, PushService, PushTokens
from clarion.channels.webpush import VapidSigner, WebPushClient

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ApnsConfig(BaseModel):
    """APNs with token auth: the team, the key (``.p8``) and the app's bundle id."""

    model_config = _FROZEN

    team_id: str = Field(min_length=1)
    key_id: str = Field(min_length=1)
    #: The ``.p8`` key's PEM text, or ``private_key_path`` to the file.
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    topic: str = Field(min_length=1)  # the app's bundle id
    #: Production, ``https://api.sandbox.push.apple.com``, or a local peer.
    base_url: str = PRODUCTION_URL
    #: A CA bundle to trust instead of the system's (a local peer's certificate).
    ca_file: Path | None = None
    token_refresh_seconds: PositiveFloat = Field(default=3000.0, le=3300.0)
    timeout: PositiveFloat = 10.0

    @model_validator(mode="after")
    def _one_key(self) -> ApnsConfig:
        if (self.private_key is None) == (self.private_key_path is None):
            raise ValueError("give exactly one of private_key and private_key_path")
        return self

    def key_pem(self) -> str:
        if self.private_key is not None:
            return self.private_key.get_secret_value()
        assert self.private_key_path is not None
        return self.private_key_path.read_text()


class FcmConfig(BaseModel):
    """FCM HTTP v1 with a service account's key file."""

    model_config = _FROZEN

    service_account_path: Path
    base_url: str = FCM_URL
    #: Overrides the key file's ``token_uri`` (a local peer).
    token_uri: str | None = None
    timeout: PositiveFloat = 10.0


class WebPushConfig(BaseModel):
    """Web Push with VAPID: the application server's key and a contact."""

    model_config = _FROZEN

    #: The VAPID private key: raw base64url (as ``web-push generate-vapid-keys``
    #: prints it), base64 DER, or PEM.
    vapid_private_key: SecretStr
    #: A ``mailto:`` or ``https:`` contact the push services may use.
    vapid_subject: str = Field(pattern=r"^(mailto:|https://)")
    timeout: PositiveFloat = 10.0


class PushServicesConfig(BaseModel):
    """The services of a push provider, and which platform goes to which."""

    model_config = _FROZEN

    apns: ApnsConfig | None = None
    fcm: FcmConfig | None = None
    webpush: WebPushConfig | None = None
    #: Device platform -> service (``apns``, ``fcm`` or ``webpush``); by default
    #: ios -> apns, android -> fcm, web -> webpush, for the services configured.
    platforms: dict[str, str] | None = None
    #: Seconds a service may hold a notification for an offline device, unless the
    #: catalog step's ``options.ttl`` says otherwise.
    ttl_seconds: int = Field(default=86_400, ge=0)

    def configured(self) -> set[str]:
        return {n for n in ("apns", "fcm", "webpush") if getattr(self, n) is not None}

    def routes(self) -> dict[str, str]:
        """Device platform -> service, as configured or by default."""
        if self.platforms is not None:
            return dict(self.platforms)
        return {p: s for p, s in DEFAULT_ROUTES.items() if s in self.configured()}

    @model_validator(mode="after")
    def _services_exist(self) -> PushServicesConfig:
        configured = self.configured()
        if not configured:
            raise ValueError("configure at least one of apns, fcm and webpush")
        unknown = {p: s for p, s in self.routes().items() if s not in configured}
        if unknown:
            raise ValueError(f"platforms name services that are not configured: {unknown}")
        return self


def build_push(
    name: str, config: PushServicesConfig, tokens: PushTokens | None = None
) -> PushProvider:
    """The push provider ``config`` describes (keys are read and checked here);
    ``tokens`` is where it removes the device tokens its services report dead."""
    services: dict[str, PushService] = {}
    if config.apns is not None:
        a = config.apns
        auth = ApnsAuth(a.team_id, a.key_id, a.key_pem(), refresh_after=a.token_refresh_seconds)
        verify: bool | ssl.SSLContext = True
        if a.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(a.ca_file))
        services["apns"] = ApnsClient(
            auth, a.topic, base_url=a.base_url, timeout=a.timeout, verify=verify
        )
    if config.fcm is not None:
        f = config.fcm
        account = load_service_account(f.service_account_path)
        services["fcm"] = FcmClient(
            account, base_url=f.base_url, token_uri=f.token_uri, timeout=f.timeout
        )
    if config.webpush is not None:
        w = config.webpush
        signer = VapidSigner(w.vapid_private_key.get_secret_value(), w.vapid_subject)
        services["webpush"] = WebPushClient(signer, timeout=w.timeout)
    return PushProvider(
        services,
        name=name,
        routes=config.routes(),
        tokens=tokens,
        default_ttl=config.ttl_seconds,
    )
