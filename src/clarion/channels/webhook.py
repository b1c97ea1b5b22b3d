"""A provider that POSTs each message as signed JSON to an HTTP endpoint.

The signature follows Stripe's scheme: ``Clarion-Signature: t=<unix time>,v1=<hex>``
where ``v1`` is HMAC-SHA256 of ``"<t>.<body>"`` under the shared secret. Signing the
time lets receivers reject replays of an old, validly signed request.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import orjson

from clarion import __version__
from clarion.channels.base import ErrorScope, Outgoing, PermanentError, Receipt
from clarion.channels.http1 import Http1Origins
from clarion.channels.http_status import Response, error_for_status, transport_errors
from clarion.channels.wire import dumps, message_record
from clarion.core.contracts import WebhookOptions
from clarion.core.model import Channel

SIGNATURE_HEADER = "Clarion-Signature"


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Clarion-Signature`` value for ``body`` sent at Unix time ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, str(timestamp), body)}"


def verify_signature(
    secret: str, header: str, body: bytes, now: float, tolerance: float = 300
) -> bool:
    """True when ``header`` signs ``body`` under ``secret`` within ``tolerance`` seconds of ``now``.

    Several ``v1`` entries may appear (as when a sender rotates secrets); any one
    matching is enough. Comparison is constant-time.
    """
    timestamp: str | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not (timestamp.isascii() and timestamp.isdigit()) or not candidates:
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = _digest(secret, timestamp, body).encode()
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in candidates)


def _receiver_ref(response: Response) -> str | None:
    # The receiver's own id for the message, if it answered with {"id": ...}.
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    ref = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(ref, str):
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool):
        return str(ref)
    return None


class WebhookProvider:
    """Delivers by POSTing the message as signed JSON to ``url``.

    The message guid goes out as ``Idempotency-Key`` so receivers can drop retries
    they already handled. A message's ``WebhookOptions.url`` overrides the endpoint.
    Connections are kept alive, a pool per origin (``http1.Http1Pool``), on the
    event loop that sends (the dispatcher's own; a pool cannot outlive its loop).

    Idempotent: receivers are expected to deduplicate on ``Idempotency-Key``. A
    failure after the request went out (read timeout, dropped connection) is
    ``unconfirmed``: the receiver may have acted on it.
    """

    idempotent = True
    channels = frozenset(Channel)  # "for anything else": the receiver decides

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        name: str = "webhook",
        timeout: float = 10.0,
        max_connections: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.url = url
        self._secret = secret
        self._timeout = timeout
        self._clock = clock
        self._user_agent = f"clarion/{__version__}"
        self._origins = Http1Origins(max_connections=max_connections, timeout=timeout)

    def _target(self, message: Outgoing) -> str:
        options = message.options
        return (options.url if isinstance(options, WebhookOptions) else None) or self.url

    async def send(self, message: Outgoing) -> Receipt:
        """POST the message; map the response or transport failure to a receipt or error."""
        try:
            pool, target = self._origins.pool_for(self._target(message))
        except ValueError as exc:
            raise PermanentError("invalid_url", str(exc), scope=ErrorScope.PROVIDER) from exc
        body = dumps(message_record(message))
        headers = (
            ("content-type", "application/json"),
            (SIGNATURE_HEADER.lower(), signature_header(self._secret, int(self._clock()), body)),
            ("idempotency-key", message.guid),
            ("user-agent", self._user_agent),
        )
        with transport_errors():
            response = await pool.post(target, body, headers)
        status = response.status
        error = error_for_status(status, response.headers.get("retry-after"), self._clock())
        if error is not None:
            raise error
        return Receipt(provider=self.name, ref=_receiver_ref(response), detail={"status": status})

    async def aclose(self) -> None:
        """Close the connections (those of the running loop; another loop's close with it)."""
        await self._origins.aclose()
