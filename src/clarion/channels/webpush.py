"""Web Push (RFC 8030) with VAPID (RFC 8292) and message encryption (RFC 8291).

A web device's ``push_token`` is the browser's subscription as JSON:
``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``.

Why not pywebpush itself: its ``webpush()`` posts with the blocking ``requests``
client, and its async path opens an aiohttp session besides Clarion's httpx.
Its own building blocks, ``http_ece`` (aes128gcm encryption) and ``py_vapid``
(VAPID signatures), do the cryptography here; keep-alive HTTP/1.1 connections,
a pool per push service (``http1.Http1Origins``), send on the dispatcher's loop.
"""

from __future__ import annotations

import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import http_ece
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from clarion.channels.http1 import Http1Origins
from clarion.channels.http_status import transport_errors
from clarion.channels.push_message import Notification, TokenRejected, service_error
from clarion.signing import b64url_decode

#: How long a VAPID signature is valid (the RFC allows at most 24 hours); one is
#: reused per push service until an hour before it expires.
VAPID_LIFETIME_S = 12 * 3600
_VAPID_MARGIN_S = 3600
#: Connections per push service, all kept alive; a burst beyond waits for one.
MAX_CONNECTIONS = 16


@dataclass(frozen=True, slots=True)
class Subscription:
    """A browser's push subscription."""

    endpoint: str
    p256dh: bytes  # the browser's P-256 public key, uncompressed point
    auth: bytes  # the 16-byte authentication secret


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return b64url_decode(value)


def parse_subscription(token: str) -> Subscription:
    """The subscription a token holds; ``TokenRejected`` when it is not one (it
    never will work, so it goes the way of an unregistered token)."""
    try:
        data = orjson.loads(token)
        keys = data["keys"]
        endpoint = data["endpoint"]
        p256dh, auth = _b64(keys["p256dh"]), _b64(keys["auth"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error):
        raise TokenRejected("invalid_subscription", "not a push subscription") from None
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise TokenRejected("invalid_subscription", "endpoint is not an http(s) URL")
    if len(p256dh) != 65 or p256dh[0] != 4 or len(auth) < 16:
        raise TokenRejected("invalid_subscription", "keys are not P-256 and auth")
    return Subscription(endpoint, p256dh, auth)


def encrypt(plaintext: bytes, subscription: Subscription) -> bytes:
    """``aes128gcm`` content for one subscription, under a fresh ephemeral key."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    encrypted: bytes = http_ece.encrypt(
        plaintext,
        private_key=ephemeral,
        dh=subscription.p256dh,
        auth_secret=subscription.auth,
        version="aes128gcm",
    )
    return encrypted


def _load_vapid(private_key: str) -> Vapid02:
    key = private_key.strip()
    if key.startswith("-----BEGIN"):
        return Vapid02.from_pem(key.encode())
    return Vapid02.from_string(key)  # raw base64url (as web-push tools print it) or DER


class VapidSigner:
    """VAPID ``Authorization`` headers, one cached per push-service origin."""

    def __init__(
        self, private_key: str, subject: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._vapid = _load_vapid(private_key)
        self._subject = subject
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    def header(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = self._clock()
        cached = self._cache.get(audience)
        if cached is None or now >= cached[1] - _VAPID_MARGIN_S:
            expires = int(now) + VAPID_LIFETIME_S
            claims = {"aud": audience, "sub": self._subject, "exp": expires}
            cached = (str(self._vapid.sign(claims)["Authorization"]), float(expires))
            self._cache[audience] = cached
        return cached[0]


def payload(note: Notification) -> bytes:
    """What the service worker receives (decrypted): title, body, the app's data,
    and ``tag`` for ``showNotification`` so a repeat replaces the first."""
    return orjson.dumps(
        {"title": note.title, "body": note.body, "tag": note.push_id, **note.data()}
    )


class WebPushClient:
    """Sends notifications to browsers through their push services.

    Not idempotent: the ``Topic`` header replaces a repeat only while the first is
    still queued at the push service; after delivery, only a service worker that
    shows notifications with the payload's ``tag`` keeps a retry from showing twice.
    """

    service = "webpush"
    idempotent = False

    def __init__(
        self,
        signer: VapidSigner,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._clock = clock
        self._origins = Http1Origins(max_connections=MAX_CONNECTIONS, timeout=timeout)

    async def push(self, note: Notification, token: str) -> str | None:
        """Send to one subscription; the push service's message URL, if it gave one."""
        subscription = parse_subscription(token)
        headers = (
            ("authorization", self._signer.header(subscription.endpoint)),
            ("content-encoding", "aes128gcm"),
            ("content-type", "application/octet-stream"),
            ("ttl", str(note.ttl)),
            ("urgency", "high" if note.urgent else "normal"),
            # At most 32 URL-safe characters: the push id without its dashes.
            ("topic", note.push_id.replace("-", "")),
        )
        body = encrypt(payload(note), subscription)
        pool, target = self._origins.pool_for(subscription.endpoint)  # checked: http(s), a host
        with transport_errors():
            response = await pool.post(target, body, headers)
        status = response.status
        if 200 <= status <= 299:
            return response.headers.get("location")
        if status in (404, 410):
            raise TokenRejected("expired" if status == 410 else "not_found", f"http {status}")
        # Push services answer errors in prose, if at all.
        detail = response.content[:200].decode("utf-8", "replace")
        retry_after = response.headers.get("retry-after")
        raise service_error(status, None, retry_after, self._clock(), detail)

    async def aclose(self) -> None:
        """Close the connections (those of the running loop)."""
        await self._origins.aclose()
