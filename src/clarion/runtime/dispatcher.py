"""The dispatcher: claims due messages under a lease, renders them in the profile's
locale and hands them to their provider; retries with capped exponential backoff
and jitter, then dead-letters with the reason.

A message whose lease expires (its worker crashed) is claimed again by
``claim_due``; the message guid travels as the provider's idempotency key.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta

from clarion.catalog import Catalog, RenderError
from clarion.catalog.context import render_context
from clarion.channels.base import (
    BadAddressError,
    DeviceAddress,
    Outgoing,
    PermanentError,
    Provider,
    ProviderError,
    Receipt,
    TransientError,
)
from clarion.core import reasons
from clarion.core.backoff import RetryPolicy
from clarion.core.model import Channel, Profile, Status
from clarion.core.spec import ChannelStep
from clarion.observability import DISPATCHED, EVENT_TO_PROVIDER, get_logger
from clarion.runtime.clock import Clock
from clarion.store.base import Store
from clarion.store.records import BadAddress, Claimed, Transition

log = get_logger("clarion.dispatcher")


class _Contexts:
    """Render contexts of one batch: the channels of an event share one per profile.

    Sharing is safe because templates run in an immutable sandbox."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], dict[str, object]] = {}

    def of(self, claimed: Claimed) -> dict[str, object]:
        key = (claimed.event.id, claimed.profile.id)
        context = self._made.get(key)
        if context is None:
            context = self._made[key] = render_context(claimed.profile, claimed.event)
        return context


def _devices(profile: Profile, ids: tuple[str, ...]) -> tuple[DeviceAddress, ...]:
    wanted = set(ids)
    return tuple(
        DeviceAddress(d.id, d.platform, d.push_token, d.app_version)
        for d in profile.devices
        if d.id in wanted
    )


class Dispatcher:
    """Sends due messages through their providers, a claimed batch at a time."""

    def __init__(
        self,
        store: Store,
        catalog: Callable[[], Catalog],
        providers: Mapping[str, Provider],
        routes: Mapping[Channel, str],
        clock: Clock,
        owner: str,
        policy: RetryPolicy = RetryPolicy(),
        batch: int = 500,
        lease: timedelta = timedelta(seconds=60),
        concurrency: int = 256,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._providers = providers
        self._routes = routes
        self._clock = clock
        self._owner = owner
        self._policy = policy
        self._batch = batch
        self._lease = lease
        self._limit = asyncio.Semaphore(concurrency)
        self._rng = rng

    async def run_once(self) -> int:
        """Dispatch one batch; returns how many messages it claimed."""
        now = self._clock()
        claimed = await asyncio.to_thread(
            self._store.claim_due, self._batch, now, self._lease, self._owner
        )
        if not claimed:
            return 0
        catalog = self._catalog()
        contexts = _Contexts()
        tally: Counter[tuple[str, str, str]] = Counter()
        transitions = await asyncio.gather(
            *(self._one(c, catalog, contexts, tally) for c in claimed)
        )
        for labels, n in tally.items():  # one metric update per kind, not per message
            DISPATCHED.labels(*labels).inc(n)
        await asyncio.to_thread(self._store.apply_transitions, transitions, self._clock())
        return len(claimed)

    async def _one(
        self,
        claimed: Claimed,
        catalog: Catalog,
        contexts: _Contexts,
        tally: Counter[tuple[str, str, str]],
    ) -> Transition:
        message = claimed.message
        now = self._clock()
        if message.expires_at is not None and now > message.expires_at:
            return self._verdict(claimed, Status.EXPIRED, reasons.EXPIRED)
        found = catalog.spec.messages.get(message.message)
        spec = found.for_cell(message.ab_test_cell) if found is not None else None
        if spec is None or message.step >= len(spec.channels):
            return self._verdict(claimed, Status.FAILED, "not_in_catalog")
        step = spec.channels[message.step]
        if _address_gone(message.channel, claimed.profile):
            # Marked bad since the decision (e.g. by the SMS before this voice call).
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
        name = step.provider or self._routes.get(message.channel, "")
        provider = self._providers.get(name)
        if provider is None:
            return self._verdict(claimed, Status.FAILED, f"no_provider:{name or message.channel}")
        outgoing = self._outgoing(claimed, step, rendered.locale, rendered.fields)
        async with self._limit:
            result = await _attempt(provider, outgoing)
        return self._after_send(claimed, provider, result, tally)

    def _outgoing(
        self, claimed: Claimed, step: ChannelStep, locale: str, fields: Mapping[str, str]
    ) -> Outgoing:
        m, p = claimed.message, claimed.profile
        return Outgoing(
            guid=m.guid,
            channel=m.channel,
            message=m.message,
            message_id=m.message_id,
            category=m.category,
            profile_id=p.id,
            locale=locale,
            fields=fields,
            email=p.email,
            phone=p.phone,
            country=p.country,
            devices=_devices(p, m.devices),
            attempt=m.attempts,
            tracking={
                "messageGuid": m.guid,
                "eventGuid": m.event_id,
                "messageName": m.message,
                "messageId": m.message_id,
                "locale": locale,
                "abTestId": m.ab_test_id,
                "abTestCell": m.ab_test_cell,
            },
            options=step.options,
        )

    def _after_send(
        self,
        claimed: Claimed,
        provider: Provider,
        result: Receipt | ProviderError,
        tally: Counter[tuple[str, str, str]],
    ) -> Transition:
        m = claimed.message
        now = self._clock()
        if isinstance(result, Receipt):
            tally[m.channel.value, provider.name, "sent"] += 1
            if m.attempts == 1 and (m.due_at is None or m.due_at <= m.created_at):
                EVENT_TO_PROVIDER.observe((now - claimed.event.occurred_at).total_seconds())
            status = Status.DELIVERED if result.delivered else Status.SENT
            return Transition(
                m.guid,
                claimed.lease_owner,
                status,
                None,
                None,
                result.provider,
                result.ref,
                dict(result.detail),
            )
        detail: dict[str, object] = {"provider": provider.name, "error": str(result)}
        if isinstance(result, TransientError) and not self._policy.exhausted(m.attempts):
            tally[m.channel.value, provider.name, "retry"] += 1
            delay = self._policy.delay(m.attempts, self._rng(), result.retry_after)
            return Transition(
                m.guid,
                claimed.lease_owner,
                Status.SCHEDULED,
                f"{reasons.RETRYING}:{result.code}",
                now + timedelta(seconds=delay),
                provider.name,
                None,
                detail,
            )
        tally[m.channel.value, provider.name, "failed"] += 1
        reason = (
            reasons.provider_rejected(result.code)
            if isinstance(result, PermanentError)
            else f"{reasons.DEAD_LETTERED}:{result.code}"
        )
        bad = None
        if isinstance(result, BadAddressError):
            bad = BadAddress(result.kind, result.value, result.code)
            detail["bad_address"] = result.kind  # the kind only: the timeline holds no numbers
        return Transition(
            m.guid,
            claimed.lease_owner,
            Status.FAILED,
            reason,
            None,
            provider.name,
            None,
            detail,
            bad,
        )

    @staticmethod
    def _verdict(
        claimed: Claimed, status: Status, reason: str, detail: Mapping[str, object] | None = None
    ) -> Transition:
        return Transition(
            claimed.message.guid, claimed.lease_owner, status, reason, detail=dict(detail or {})
        )


def _address_gone(channel: Channel, profile: Profile) -> bool:
    """True when the channel's address was marked bad after the message was decided."""
    if channel in (Channel.SMS, Channel.VOICE):
        address = profile.phone
    elif channel is Channel.EMAIL:
        address = profile.email
    else:
        return False
    return address is not None and address in profile.bad_addresses


async def _attempt(provider: Provider, outgoing: Outgoing) -> Receipt | ProviderError:
    """One provider call; anything unexpected counts as a transient failure."""
    try:
        return await provider.send(outgoing)
    except ProviderError as exc:
        return exc
    except Exception as exc:
        log.exception("provider_crashed", provider=provider.name, guid=outgoing.guid)
        return TransientError("provider_exception", repr(exc))
