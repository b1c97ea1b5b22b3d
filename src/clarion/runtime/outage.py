"""A worker loop's view of a database outage: back off, and say so once.

While the database is down every poll fails at once; retrying at the poll
interval wrote a traceback per attempt (598 of them, 4.7 MB, in 15 s). A loop
that meets a database error waits instead, longer after each failure (capped
exponential backoff with jitter, the delivery retry rule), and the outage is
logged twice: when it starts, with the error's class, and when it ends, with how
long it lasted and how many attempts failed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from clarion.core.backoff import RetryPolicy
from clarion.observability import DATABASE_OUTAGES, get_logger

log = get_logger("clarion.workers")

#: 0.1 s after the first failure, doubling, never more than 5 s apart.
BACKOFF = RetryPolicy(base=0.1, cap=5.0)


class Outage:
    """One worker loop's outage state (used from that loop's thread only)."""

    def __init__(
        self,
        worker: str,
        policy: RetryPolicy = BACKOFF,
        unit: Callable[[], float] = random.random,
    ) -> None:
        self._worker = worker
        self._policy = policy
        self._unit = unit
        self._since: float | None = None
        self._failures = 0

    def failed(self, exc: BaseException) -> float:
        """Note a failed attempt; the seconds to wait before the next one."""
        if self._since is None:
            self._since = time.monotonic()
            cause = getattr(exc, "orig", None) or exc
            DATABASE_OUTAGES.labels(worker=self._worker).inc()
            # The class only: the text quotes the statement.
            log.error(
                "database_unavailable",
                worker=self._worker,
                error=type(exc).__name__,
                cause=type(cause).__name__,
            )
        self._failures += 1
        return self._policy.delay(self._failures, self._unit())

    def succeeded(self) -> None:
        """Note an attempt that reached the database: an outage in progress ends."""
        if self._since is None:
            return
        log.warning(
            "database_available",
            worker=self._worker,
            down_seconds=round(time.monotonic() - self._since, 3),
            failed_attempts=self._failures,
        )
        self._since = None
        self._failures = 0
