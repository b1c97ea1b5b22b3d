"""When to try a failed delivery again: capped exponential backoff with jitter.

Pure: the random number is an argument, so the dispatcher passes ``random.random()``
and tests pass whatever they like.
"""

from __future__ import annotations

from dataclasses import dataclass

# 2.0 ** 1024 overflows a float; beyond this exponent every delay is the cap anyway.
_MAX_EXPONENT = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait between delivery attempts, and how many to make.

    The delay after the ``n``-th failed attempt is ``base * 2 ** (n - 1)`` seconds,
    capped at ``cap``, then scaled into ``[1 - jitter, 1)`` of itself ("equal
    jitter"): retries of many messages that failed together spread out, yet a
    delay never shrinks below ``1 - jitter`` of the schedule.
    """

    base: float = 1.0
    cap: float = 300.0
    max_attempts: int = 8
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("base and cap must not be negative")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")

    def delay(self, attempt: int, unit: float, retry_after: float | None = None) -> float:
        """Seconds to wait after attempt number ``attempt`` (1-based) failed.

        ``unit`` is a random number in ``[0, 1)``. A provider's ``retry_after`` is a
        floor, even above the cap: sending earlier than it asked only fails again.
        """
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        scheduled = min(self.base * 2.0 ** min(attempt - 1, _MAX_EXPONENT), self.cap)
        jittered = scheduled * (1.0 - self.jitter + self.jitter * unit)
        if retry_after is not None:
            return max(jittered, retry_after)
        return jittered

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` attempts have been made and no more are allowed."""
        return attempts >= self.max_attempts
