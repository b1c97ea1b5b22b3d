"""Per-provider rate limits: a token bucket per provider, shared by every send of
the process, and paused by a provider's ``Retry-After``.

The bucket is kept as GCRA (the "generic cell rate algorithm", a token bucket
written as one timestamp): each send reserves the next free slot, ``burst`` slots
may fall on the same instant and after that they come ``1 / per_second`` apart.
A reservation is a time to sleep until, so waiting is an ``asyncio.sleep``, never
a busy loop, and slots are handed out in order of asking. Sleepers that wake late
(a busy event loop) would go out together, so a second GCRA, taken when a send
is about to go out, spreads such a bunch again: the limit holds for the calls
themselves (to the precision of the event loop's timers), not just for the plan.
Both happen under a lock, so dispatchers on several threads of one process share
a bucket.

Each process enforces its own buckets: with several dispatching processes each
gets ``1 / share`` of every limit (``RateLimits(share=...)``, docs/delivery.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``burst`` sends at once and ``per_second`` sends a second on average."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and math.isfinite(self.per_second)):
            raise ValueError("per_second must be a positive number")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    def share(self, parts: int) -> RateLimit:
        """This limit split evenly between ``parts`` processes."""
        if parts <= 1:
            return self
        return RateLimit(self.per_second / parts, max(1, self.burst // parts))


class TokenBucket:
    """The send slots of one provider; without a ``limit`` it only honours pauses."""

    def __init__(
        self, limit: RateLimit | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self._interval = 1.0 / limit.per_second if limit else 0.0
        self._tolerance = (limit.burst - 1) * self._interval if limit else 0.0
        self._clock = clock
        self._tat = -math.inf  # the "theoretical arrival time" of the next reservation
        self._sent_tat = -math.inf  # the same over the sends admitted
        self._paused_until = -math.inf
        self._lock = threading.Lock()

    def _first(self, now: float, tat: float) -> float:
        return max(now, self._paused_until, tat - self._tolerance)

    def reserve(self, within: float) -> float | None:
        """Take the next slot if it comes within ``within`` seconds; the seconds to
        wait for it, or None (nothing taken) when it comes later."""
        with self._lock:
            now = self._clock()
            slot = self._first(now, self._tat)
            if slot - now > within:
                return None
            self._tat = max(self._tat, slot) + self._interval
            return slot - now

    def admit(self, within: float) -> float | None:
        """Take a slot among the sends themselves: the seconds to wait for it (0.0
        right after the sends so far leave room), or None (nothing taken) when it
        is more than ``within`` seconds away. Call just before sending."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._paused_until, self._sent_tat - self._tolerance)
            if slot - now > within:
                return None
            self._sent_tat = max(self._sent_tat, slot) + self._interval
            return slot - now

    def upcoming(self, count: int) -> list[float]:
        """Seconds from now to each of the next ``count`` free slots, reserving none."""
        with self._lock:
            now, tat = self._clock(), self._tat
            waits = []
            for _ in range(count):
                slot = self._first(now, tat)
                tat = max(tat, slot) + self._interval
                waits.append(slot - now)
            return waits

    def pause(self, seconds: float) -> None:
        """Hand out no slot for ``seconds`` (a provider's ``Retry-After``)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        """Seconds until a pause ends; 0 when not paused."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())


class RateLimits:
    """One bucket per provider name, made on first use; shared by the process's sends."""

    def __init__(
        self,
        limits: Mapping[str, RateLimit] | None = None,
        *,
        share: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {name: limit.share(share) for name, limit in (limits or {}).items()}
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, provider: str) -> TokenBucket:
        with self._lock:
            found = self._buckets.get(provider)
            if found is None:
                found = TokenBucket(self._limits.get(provider), self._clock)
                self._buckets[provider] = found
            return found
