"""HTTP responses as provider errors: which statuses are worth retrying, and when.

Shared by every provider that speaks HTTP, so a 429 means the same thing for all.
"""

from __future__ import annotations

import math
from datetime import UTC
from email.utils import parsedate_to_datetime

from clarion.channels.base import ErrorScope, PermanentError, ProviderError, TransientError

#: Statuses that say "not now" rather than "never": timeouts, throttling, server faults.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
#: Permanent statuses about the provider account or endpoint rather than the message:
#: credentials, an unpaid account, an endpoint that does not exist (or no longer).
#: The channel fails over to its next provider on these (docs/delivery.md).
PROVIDER_STATUSES = frozenset({401, 402, 403, 404, 405, 407, 410})


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
