"""What the dispatcher records after a send: delivered, retried on the same
provider, failed over to the route's next provider, rescheduled for a rate-limit
slot, or failed (docs/delivery.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from clarion.channels.base import (
    BadAddressError,
    ErrorScope,
    Outgoing,
    PermanentError,
    Provider,
    ProviderError,
    Receipt,
    TransientError,
)
from clarion.core import reasons
from clarion.core.backoff import RetryPolicy
from clarion.core.delivery import BadAddress
from clarion.core.model import Status
from clarion.core.route import Next, Route, after_failure
from clarion.observability import FAILOVERS, RETRIES
from clarion.store.records import Claimed, Transition

#: Dispatch outcomes counted per (channel, provider, outcome) for one batch.
Tally = Counter[tuple[str, str, str]]


@dataclass(frozen=True, slots=True)
class Send:
    """A claimed message ready for the provider its route picked for this attempt."""

    claimed: Claimed
    route: Route
    index: int
    provider: Provider
    outgoing: Outgoing
    #: The previous attempt's outcome is unknown and may not be deduplicated.
    possible_duplicate: bool = False

    @property
    def name(self) -> str:
        """The provider's name in the configuration (and in the route)."""
        return self.route.providers[self.index]

    def detail(self) -> dict[str, object]:
        return {"possible_duplicate": True} if self.possible_duplicate else {}


def delivered(send: Send, receipt: Receipt, tally: Tally) -> Transition:
    m = send.claimed.message
    tally[m.channel.value, send.name, "sent"] += 1
    return Transition(
        m.guid,
        send.claimed.lease_owner,
        Status.DELIVERED if receipt.delivered else Status.SENT,
        provider=receipt.provider,
        provider_ref=receipt.ref,
        detail={**receipt.detail, **send.detail()},
    )


def deferred(send: Send, seconds: float, now: datetime, tally: Tally) -> Transition:
    """Rescheduled for the provider's next free slot, without a call: the claim's
    attempt is given back."""
    m = send.claimed.message
    tally[m.channel.value, send.name, "deferred"] += 1
    detail: dict[str, object] = {"wait_seconds": round(seconds, 3)}
    if send.claimed.unconfirmed is not None:  # still unconfirmed: the next claim must know
        detail["unconfirmed"] = send.claimed.unconfirmed.get("provider")
    return Transition(
        m.guid,
        send.claimed.lease_owner,
        Status.SCHEDULED,
        reasons.RATE_LIMITED,
        now + timedelta(seconds=seconds),
        send.name,
        detail=detail,
        attempts=max(m.attempts - 1, 0),
    )


def failed(
    send: Send,
    error: ProviderError,
    now: datetime,
    policy: RetryPolicy,
    rng: Callable[[], float],
    tally: Tally,
) -> Transition:
    """Retry, fail over or give up, by ``clarion.core.route.after_failure``."""
    m, owner, name = send.claimed.message, send.claimed.lease_owner, send.name
    transient = isinstance(error, TransientError)
    decision = after_failure(
        send.route,
        send.index,
        m.attempts,
        transient=transient,
        provider_scoped=error.scope is ErrorScope.PROVIDER,
        exhausted=policy.exhausted(m.attempts),
    )
    detail: dict[str, object] = {"provider": name, "error": str(error), **send.detail()}
    if error.unconfirmed:  # the provider may have acted on it: say which one
        detail["unconfirmed"] = name
    channel = m.channel.value
    if decision.next is Next.FAILOVER:
        to = send.route.providers[decision.index]
        tally[channel, name, "failover"] += 1
        FAILOVERS.labels(channel, name, to, error.code).inc()
        detail.update({"from": name, "to": to, "code": error.code})
        reason = reasons.failover(error.code)
        # The next attempt's provider: the claim reads it to find its route position.
        return Transition(
            m.guid, owner, Status.SCHEDULED, reason, retry_at=now, provider=to, detail=detail
        )
    if decision.next is Next.RETRY:
        tally[channel, name, "retry"] += 1
        RETRIES.labels(name, error.code).inc()
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        delay = policy.delay(m.attempts, rng(), retry_after)
        detail["retry_in"] = round(delay, 4)  # the backoff chosen, for the timeline
        reason = f"{reasons.RETRYING}:{error.code}"
        retry_at = now + timedelta(seconds=delay)
        return Transition(
            m.guid, owner, Status.SCHEDULED, reason, retry_at=retry_at, provider=name, detail=detail
        )
    tally[channel, name, "failed"] += 1
    reason = (
        reasons.provider_rejected(error.code)
        if isinstance(error, PermanentError)
        else f"{reasons.DEAD_LETTERED}:{error.code}"
    )
    bad = None
    if isinstance(error, BadAddressError):
        bad = BadAddress(error.kind, error.value, error.code, error.lasts)
        detail["bad_address"] = error.kind  # the kind only: the timeline holds no numbers
    return Transition(
        m.guid, owner, Status.FAILED, reason, provider=name, detail=detail, bad_address=bad
    )
