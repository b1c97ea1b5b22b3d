"""The dispatcher: claims due messages under a lease, renders them in the profile's
locale and hands them to the provider their route picks; retries with capped
exponential backoff and jitter, fails over to a route's next provider, keeps to
each provider's rate limit, then dead-letters with the reason (docs/delivery.md).

A message whose lease expires (its worker crashed) is claimed again by
``claim_due``; the message guid travels as the provider's idempotency key. For
providers that take none, the attempts of a batch are recorded in one
transaction before the calls, so a crash in a call shows in the timeline.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from clarion.catalog import Catalog, RenderError
from clarion.channels.base import (
    Outgoing,
    Provider,
    ProviderError,
    Receipt,
    TransientError,
)
from clarion.core import reasons
from clarion.core.backoff import RetryPolicy
from clarion.core.model import Channel, Profile, Status
from clarion.core.route import Route
from clarion.core.spec import ChannelStep
from clarion.observability import (
    DISPATCHED,
    EVENT_TO_PROVIDER,
    POSSIBLE_DUPLICATES,
    PROVIDER_PAUSES,
    RATE_LIMIT_DEFERRED,
    RATE_LIMIT_WAIT,
    get_logger,
)
from clarion.runtime.clock import Clock
from clarion.runtime.outgoing import Contexts, outgoing_of
from clarion.runtime.ratelimit import RateLimits
from clarion.runtime.verdicts import Send, Tally, deferred, delivered, failed
from clarion.store.records import Attempt, Claimed, Transition

log = get_logger("clarion.dispatcher")


class DispatcherStore(Protocol):
    """The store operations the dispatcher uses."""

    def claim_due(
        self, limit: int, now: datetime, lease: timedelta, owner: str
    ) -> list[Claimed]: ...
    def apply_transitions(self, transitions: Sequence[Transition], now: datetime) -> int: ...
    def record_attempts(self, attempts: Sequence[Attempt], now: datetime) -> set[str]: ...


def idempotent(provider: Provider) -> bool:
    """Whether ``provider`` deduplicates on the message guid. A provider that does
    not say counts as not: its attempts are recorded, which is the safe side."""
    return getattr(provider, "idempotent", False) is True


class Dispatcher:
    """Sends due messages through their providers, a claimed batch at a time.

    ``routes`` name each channel's providers (primary first); a catalog step may
    name its own. ``limits`` holds the providers' rate limits (shared by every
    send of this dispatcher); a send waits at most ``max_wait`` seconds for its
    slot before the message is rescheduled for it.
    """

    def __init__(
        self,
        store: DispatcherStore,
        catalog: Callable[[], Catalog],
        providers: Mapping[str, Provider],
        routes: Mapping[Channel, Sequence[str]],
        clock: Clock,
        owner: str,
        policy: RetryPolicy = RetryPolicy(),
        batch: int = 500,
        lease: timedelta = timedelta(seconds=60),
        concurrency: int = 256,
        rng: Callable[[], float] = random.random,
        *,
        limits: RateLimits | None = None,
        failover_after: int = 2,
        max_wait: float = 1.0,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._providers = providers
        # A bare name is a route of one provider (a ``str`` is a ``Sequence[str]`` too).
        self._routes = {
            c: Route((names,) if isinstance(names, str) else tuple(names), failover_after)
            for c, names in routes.items()
        }
        self._step_routes: dict[tuple[str, ...], Route] = {}
        self._failover_after = failover_after
        self._clock = clock
        self._owner = owner
        self._policy = policy
        self._batch = batch
        self._lease = lease
        self._limit = asyncio.Semaphore(concurrency)
        self._rng = rng
        self._limits = limits if limits is not None else RateLimits()
        self._max_wait = max_wait

    async def run_once(self) -> int:
        """Dispatch one batch; returns how many messages it claimed."""
        now = self._clock()
        claimed = await asyncio.to_thread(
            self._store.claim_due, self._batch, now, self._lease, self._owner
        )
        if not claimed:
            return 0
        catalog = self._catalog()
        contexts = Contexts()
        tally: Tally = Counter()
        verdicts: list[Transition] = []
        sends: list[Send] = []
        for c in claimed:
            prepared = self._prepare(c, catalog, contexts)
            if isinstance(prepared, Send):
                sends.append(prepared)
            else:
                verdicts.append(prepared)
        sends = self._within_rate(sends, verdicts, tally)
        sends = await self._record_attempts(sends)
        verdicts += await asyncio.gather(*(self._deliver(s, tally) for s in sends))
        for labels, n in tally.items():  # one metric update per kind, not per message
            DISPATCHED.labels(*labels).inc(n)
        await asyncio.to_thread(self._store.apply_transitions, verdicts, self._clock())
        return len(claimed)

    def _prepare(self, claimed: Claimed, catalog: Catalog, contexts: Contexts) -> Send | Transition:
        """The message rendered for the provider of this attempt, or why it is not sent."""
        message = claimed.message
        if message.expires_at is not None and self._clock() > message.expires_at:
            return self._verdict(claimed, Status.EXPIRED, reasons.EXPIRED)
        found = catalog.spec.messages.get(message.message)
        spec = found.for_cell(message.ab_test_cell) if found is not None else None
        if spec is None or message.step >= len(spec.channels):
            return self._verdict(claimed, Status.FAILED, "not_in_catalog")
        step = spec.channels[message.step]
        if _address_gone(message.channel, claimed.profile, self._clock()):
            # Limited since the decision (e.g. a number that does not exist, found by
            # the SMS before this voice call; a landline stops the SMS only).
            return self._verdict(claimed, Status.SUPPRESSED, reasons.NO_ADDRESS)
        try:
            rendered = catalog.render(
                message.message,
                message.step,
                claimed.profile.locale,
                contexts.of(claimed),
                message.ab_test_cell,
            )
        except RenderError as exc:
            log.warning("render_failed", guid=message.guid, error=str(exc))
            return self._verdict(claimed, Status.FAILED, "render_failed", {"error": str(exc)})
        route = self._route(step)
        index = route.index_of(message.provider) if route else 0
        name = route.providers[index] if route else ""
        provider = self._providers.get(name)
        if route is None or provider is None:
            return self._verdict(claimed, Status.FAILED, f"no_provider:{name or message.channel}")
        outgoing = outgoing_of(claimed, step, rendered.locale, rendered.fields)
        duplicate = self._possible_duplicate(claimed, name)
        return Send(claimed, route, index, provider, outgoing, duplicate)

    def _route(self, step: ChannelStep) -> Route | None:
        if step.provider is None:
            return self._routes.get(step.channel)
        names = (step.provider, *step.fallbacks)
        route = self._step_routes.get(names)
        if route is None:
            route = self._step_routes[names] = Route(names, self._failover_after)
        return route

    def _possible_duplicate(self, claimed: Claimed, name: str) -> bool:
        """A send after an unconfirmed attempt may deliver twice unless it goes to
        the same provider and that provider deduplicates."""
        if claimed.unconfirmed is None:
            return False
        before = claimed.unconfirmed.get("provider")
        previous = self._providers.get(before) if isinstance(before, str) else None
        return previous is None or not idempotent(previous) or before != name

    def _within_rate(
        self, sends: list[Send], verdicts: list[Transition], tally: Tally
    ) -> list[Send]:
        """The sends whose provider has a slot for them within ``max_wait``; the
        others are rescheduled for their slot (appended to ``verdicts``)."""
        by_provider: dict[str, list[Send]] = {}
        for send in sends:
            by_provider.setdefault(send.name, []).append(send)
        kept: list[Send] = []
        for name, group in by_provider.items():
            waits = self._limits.bucket(name).upcoming(len(group))
            for send, wait in zip(group, waits, strict=True):
                if wait <= self._max_wait:
                    kept.append(send)
                else:
                    verdicts.append(self._defer(send, wait, tally))
        return kept

    async def _record_attempts(self, sends: list[Send]) -> list[Send]:
        """Record the coming calls to providers without idempotency keys, all in one
        transaction, before any is made; drop the sends whose lease is gone."""
        attempts = [
            Attempt(
                s.outgoing.guid,
                s.claimed.lease_owner,
                s.name,
                s.claimed.message.attempts,
                s.possible_duplicate,
            )
            for s in sends
            if not idempotent(s.provider)
        ]
        if not attempts:
            return sends
        held = await asyncio.to_thread(self._store.record_attempts, attempts, self._clock())
        if len(held) < len(attempts):
            log.warning("lease_lost_before_send", count=len(attempts) - len(held))
        return [s for s in sends if idempotent(s.provider) or s.outgoing.guid in held]

    async def _deliver(self, send: Send, tally: Tally) -> Transition:
        """Wait for the provider's slot, call it and judge the answer."""
        bucket = self._limits.bucket(send.name)
        async with self._limit:
            wait = bucket.reserve(self._max_wait)
            if wait is None:
                return self._defer(send, bucket.upcoming(1)[0], tally)
            if wait > 0:
                RATE_LIMIT_WAIT.labels(send.name).observe(wait)
                await asyncio.sleep(wait)
            # Sent only when the calls made so far leave room: a late wake-up, or a
            # Retry-After that came in meanwhile, can make it wait again.
            late = bucket.admit(self._max_wait - wait)  # what is left of the wait allowed
            if late is None:
                return self._defer(send, max(bucket.paused_for(), bucket.upcoming(1)[0]), tally)
            if late > 0:
                await asyncio.sleep(late)
            if send.possible_duplicate:
                POSSIBLE_DUPLICATES.labels(send.name).inc()
            result = await _attempt(send.provider, send.outgoing)
        if isinstance(result, TransientError) and result.retry_after:
            bucket.pause(result.retry_after)
            PROVIDER_PAUSES.labels(send.name).inc()
        return self._after_send(send, result, tally)

    def _defer(self, send: Send, seconds: float, tally: Tally) -> Transition:
        RATE_LIMIT_DEFERRED.labels(send.name).inc()
        return deferred(send, seconds, self._clock(), tally)

    def _after_send(self, send: Send, result: Receipt | ProviderError, tally: Tally) -> Transition:
        now = self._clock()
        if isinstance(result, Receipt):
            m = send.claimed.message
            if m.attempts == 1 and (m.due_at is None or m.due_at <= m.created_at):
                latency = (now - send.claimed.event.occurred_at).total_seconds()
                EVENT_TO_PROVIDER.observe(latency)
            return delivered(send, result, tally)
        return failed(send, result, now, self._policy, self._rng, tally)

    @staticmethod
    def _verdict(
        claimed: Claimed, status: Status, reason: str, detail: Mapping[str, object] | None = None
    ) -> Transition:
        return Transition(
            claimed.message.guid, claimed.lease_owner, status, reason, detail=dict(detail or {})
        )


def _address_gone(channel: Channel, profile: Profile, now: datetime) -> bool:
    """True when the channel's address was limited after the message was decided."""
    return bool(profile.contact(channel)) and profile.address_for(channel, now) is None


async def _attempt(provider: Provider, outgoing: Outgoing) -> Receipt | ProviderError:
    """One provider call; anything unexpected counts as a transient failure."""
    try:
        return await provider.send(outgoing)
    except ProviderError as exc:
        return exc
    except Exception as exc:
        log.exception("provider_crashed", provider=provider.name, guid=outgoing.guid)
        return TransientError("provider_exception", repr(exc))
