"""Which provider an attempt goes to, and what a failed attempt leads to: retry on
the same provider, fail over to the next one, or give up.

Pure: the dispatcher passes what it knows (the route, the attempt number, the
provider the message last used, the error's kind and scope) and carries out the
answer. docs/delivery.md explains the rules to operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Next(StrEnum):
    """What follows a failed attempt."""

    RETRY = "retry"  # the same provider, after the backoff delay
    FAILOVER = "failover"  # the route's next provider, at once
    FAIL = "fail"  # no more attempts


@dataclass(frozen=True, slots=True)
class Route:
    """A channel's providers, primary first, then fallbacks.

    A message stays with one provider until a failover verdict hands it to the
    next (the store keeps the provider a message last used, so the position
    survives crashes and restarts). On transient errors the provider at position
    ``i`` (0-based) is left once the message has had ``(i + 1) * failover_after``
    attempts; the last provider keeps the rest of the message's attempts.
    """

    providers: tuple[str, ...]
    failover_after: int = 2

    def __post_init__(self) -> None:
        if not self.providers:
            raise ValueError("a route needs at least one provider")
        if self.failover_after < 1:
            raise ValueError("failover_after must be at least 1")

    def index_of(self, last: str | None) -> int:
        """The position of the provider the next attempt goes to, given the one the
        message last used or was failed over to (the primary when none, or when
        that provider is no longer on the route)."""
        return self.providers.index(last) if last in self.providers else 0


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a failed attempt: what next, and with which provider."""

    next: Next
    index: int  # the route position of the next attempt's provider (RETRY, FAILOVER)


def after_failure(
    route: Route,
    index: int,
    attempt: int,
    *,
    transient: bool,
    provider_scoped: bool,
    exhausted: bool,
) -> Decision:
    """What follows attempt ``attempt`` through ``route.providers[index]`` failing.

    * An address-scoped error never fails over (another SMS provider would reject
      the same bad number): transient ones retry on the same provider, permanent
      ones fail.
    * A provider-scoped permanent error (credentials, configuration, an endpoint
      that is gone) fails over at once; with no provider left the message fails.
    * A provider-scoped transient error (5xx, timeout, throttling) retries on the
      same provider until the message has had ``(index + 1) * failover_after``
      attempts, then fails over.
    * Once the message's attempts are ``exhausted`` nothing follows.
    """
    if exhausted:
        return Decision(Next.FAIL, index)
    last = len(route.providers) - 1
    if not provider_scoped:
        return Decision(Next.RETRY, index) if transient else Decision(Next.FAIL, index)
    if not transient:
        return Decision(Next.FAILOVER, index + 1) if index < last else Decision(Next.FAIL, index)
    if attempt >= (index + 1) * route.failover_after and index < last:
        return Decision(Next.FAILOVER, index + 1)
    return Decision(Next.RETRY, index)
