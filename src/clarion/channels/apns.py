"""Apple Push Notification service over HTTP/2 with token (JWT ES256) authentication.

Each request carries ``authorization: bearer <JWT>`` signed with the team's
``.p8`` key. Apple rejects tokens older than an hour and throttles new ones
issued more often than every 20 minutes, so one token is reused and replaced
after ``token_refresh`` seconds (50 minutes), or at once when APNs answers
``ExpiredProviderToken``.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from urllib.parse import quote

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clarion.channels.base import TransientError
from clarion.channels.http2 import Http2Client
from clarion.channels.http_status import Response, transport_errors
from clarion.channels.push_message import Notification, TokenRejected, service_error

PRODUCTION_URL = "https://api.push.apple.com"
SANDBOX_URL = "https://api.sandbox.push.apple.com"

#: APNs reasons that say the token itself is dead. ``BadDeviceToken`` also comes
#: back for a sandbox token sent to production: point ``base_url`` at the right one.
DEAD_TOKEN_REASONS = frozenset({"Unregistered", "BadDeviceToken", "ExpiredToken"})


class ApnsAuth:
    """The provider token: an ES256 JWT (``iss`` team id, ``iat``, header ``kid``),
    cached and re-signed when it is ``refresh_after`` seconds old."""

    def __init__(
        self,
        team_id: str,
        key_id: str,
        private_key: str,
        *,
        refresh_after: float = 3000.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._team_id = team_id
        self._key_id = key_id
        # Loaded once: a wrong key fails at start-up, not on the first message.
        key = serialization.load_pem_private_key(private_key.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the APNs key must be an EC (P-256) private key, as in a .p8 file")
        self._key = key
        self._refresh_after = refresh_after
        self._clock = clock
        self._token: tuple[str, float] | None = None

    def token(self) -> str:
        """The current token, signing a new one when it is due."""
        now = self._clock()
        if self._token is None or now - self._token[1] >= self._refresh_after:
            claims = {"iss": self._team_id, "iat": int(now)}
            signed = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self._key_id})
            self._token = (signed, now)
        return self._token[0]

    def expire(self, stale: str) -> None:
        """Forget ``stale`` (APNs said it expired); the next call signs a new one."""
        if self._token is not None and self._token[0] == stale:
            self._token = None


def payload(note: Notification) -> bytes:
    """The JSON payload: ``aps`` with the alert, and the app's own keys beside it."""
    aps: dict[str, object] = {"alert": {"title": note.title, "body": note.body}}
    if note.sound is not None:
        aps["sound"] = note.sound
    if note.badge is not None:
        aps["badge"] = note.badge
    return orjson.dumps({"aps": aps, **note.data()})


class ApnsClient:
    """Sends notifications to iOS devices through APNs.

    ``apns-id`` is derived from the message guid, and so is ``apns-collapse-id``:
    a retried message keeps both, and the device shows it once.
    """

    service = "apns"
    idempotent = True

    def __init__(
        self,
        auth: ApnsAuth,
        topic: str,
        *,
        base_url: str = PRODUCTION_URL,
        timeout: float = 10.0,
        verify: bool | ssl.SSLContext = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._auth = auth
        self._topic = topic
        self._clock = clock
        # HTTP/2 only: APNs speaks nothing else; on an http:// URL (a local peer),
        # cleartext HTTP/2 with prior knowledge (h2c). One connection multiplexes
        # every notification in flight, as Apple asks.
        self._client = Http2Client(base_url, timeout=timeout, verify=verify)

    def _headers(self, note: Notification, bearer: str) -> dict[str, str]:
        """Every header of a notification (the shared ones first)."""
        return dict((*self._shared(note, bearer), *self._own(note)))

    def _shared(self, note: Notification, bearer: str) -> tuple[tuple[str, str], ...]:
        # The same for many notifications (the token for 50 minutes): HPACK indexes them.
        return (
            ("authorization", f"bearer {bearer}"),
            ("apns-topic", self._topic),
            ("apns-push-type", "alert"),
            ("apns-priority", "10" if note.urgent else "5"),
        )

    def _own(self, note: Notification) -> tuple[tuple[str, str], ...]:
        return (
            ("apns-expiration", str(int(self._clock()) + note.ttl if note.ttl else 0)),
            ("apns-id", note.push_id),
            ("apns-collapse-id", note.push_id),
        )

    async def push(self, note: Notification, token: str) -> str | None:
        """Send to one device token; the ``apns-id`` APNs acknowledged."""
        body = payload(note)
        path = f"/3/device/{quote(token, safe='')}"
        own = self._own(note)
        for attempt in (1, 2):
            bearer = self._auth.token()
            with transport_errors():
                response = await self._client.post(
                    path, body, shared=self._shared(note, bearer), own=own
                )
            if response.status == 200:
                return response.headers.get("apns-id", note.push_id)
            reason = _reason(response)
            if response.status == 403 and reason == "ExpiredProviderToken" and attempt == 1:
                self._auth.expire(bearer)
                continue
            if response.status == 410 or reason in DEAD_TOKEN_REASONS:
                raise TokenRejected(reason or "Unregistered")
            raise service_error(
                response.status, reason, response.headers.get("retry-after"), self._clock()
            )
        raise TransientError("apns_token_expired")  # expired twice in a row

    async def aclose(self) -> None:
        """Close the HTTP/2 connection."""
        await self._client.aclose()


def _reason(response: Response) -> str | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else None
