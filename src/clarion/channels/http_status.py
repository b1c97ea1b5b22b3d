"""HTTP responses as provider errors: which statuses are worth retrying, and when.

Shared by every provider that speaks HTTP, so a 429 means the same thing for all.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from clarion.channels.base import ErrorScope, PermanentError, ProviderError, TransientError

#: Statuses that say "not now" rather than "never": timeouts, throttling, server faults.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
#: Permanent statuses about the provider account or endpoint rather than the message:
#: credentials, an unpaid account, an endpoint that does not exist (or no longer).
#: The channel fails over to its next provider on these (docs/delivery.md).
PROVIDER_STATUSES = frozenset({401, 402, 403, 404, 405, 407, 410})


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response of Clarion's own HTTP clients (``http1``, ``http2``):
    status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    content: bytes


def is_transient(status: int) -> bool:
    """True for statuses that a later retry may turn into a success."""
    return status in TRANSIENT_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    ``now`` is the current Unix time, used for dates. ``None`` when absent or
    unreadable: a garbled header should not turn a retry into a failure.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # a "-0000" zone; HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)


def error_for_status(status: int, retry_after: str | None, now: float) -> ProviderError | None:
    """The error a non-2xx response maps to, or ``None`` for success.

    Redirects count as permanent: an endpoint that moved is a configuration error,
    and re-posting a message to wherever it points is not ours to decide. Like the
    ``PROVIDER_STATUSES`` they are the provider's fault, not the message's, so the
    channel's next provider is tried; other 4xx are about the message.
    """
    if 200 <= status <= 299:
        return None
    code = f"http_{status}"
    if is_transient(status):
        return TransientError(code, retry_after=parse_retry_after(retry_after, now))
    if status in PROVIDER_STATUSES or 300 <= status <= 399:
        return PermanentError(code, scope=ErrorScope.PROVIDER)
    return PermanentError(code)


@contextmanager
def transport_errors() -> Iterator[None]:
    """Map httpx failures inside the block to provider errors.

    Timeouts and broken connections are worth a retry (marked unconfirmed when the
    request may have gone out: docs/delivery.md); a URL httpx cannot use is not, and
    is the provider's configuration, so the channel fails over.
    """
    try:
        yield
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:  # nothing went out
        raise TransientError("timeout", str(exc)) from exc
    except httpx.TimeoutException as exc:  # the request may have been applied: unconfirmed
        raise TransientError("timeout", str(exc), unconfirmed=True) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError("invalid_url", str(exc), scope=ErrorScope.PROVIDER) from exc
    except httpx.ConnectError as exc:
        raise TransientError("connection_error", str(exc)) from exc
    except httpx.TransportError as exc:  # the connection broke after the request went out
        raise TransientError("connection_error", str(exc), unconfirmed=True) from exc
    except httpx.RequestError as exc:  # e.g. an undecodable response body
        raise TransientError("request_error", str(exc)) from exc


async def close_client(client: httpx.AsyncClient) -> None:
    """Close ``client``, tolerating connections left on an event loop that has closed.

    The dispatcher sends from its own thread's loop, and providers are closed at
    shutdown from the API's loop, after the dispatcher's has gone: its sockets can
    no longer be closed gracefully, and the process is exiting anyway.
    """
    try:
        await client.aclose()
    except RuntimeError as exc:
        if "closed" not in str(exc):
            raise


_P = TypeVar("_P", bound=asyncio.Protocol)


async def connect(
    factory: Callable[[], _P], host: str, port: int, tls: ssl.SSLContext | None, deadline: float
) -> tuple[asyncio.BaseTransport, _P]:
    """Open a connection (TLS when ``tls``) by ``deadline`` (the loop's clock); its
    failures are httpx's exceptions, which ``transport_errors`` maps, as for every
    other transport failure of the providers' own HTTP clients."""
    loop = asyncio.get_running_loop()
    hostname = host if tls is not None else None
    try:
        async with asyncio.timeout_at(deadline):
            return await loop.create_connection(
                factory, host, port, ssl=tls, server_hostname=hostname
            )
    except TimeoutError as exc:
        raise httpx.ConnectTimeout(f"connecting to {host}:{port}") from exc
    except OSError as exc:
        raise httpx.ConnectError(f"connecting to {host}:{port}: {exc}") from exc
