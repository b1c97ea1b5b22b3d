"""Who may get a message, and when: the eligibility rules that ``decide()`` applies
to a new message and the escalation worker to each later rung of a ladder.

Pure, like ``decide()``: each function returns the reason that stops a message
(``clarion.core.reasons``) or ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clarion.core import reasons
from clarion.core.caps import first_exceeded
from clarion.core.model import PHONE_CHANNELS, Channel, Event, PastMessage, Profile, Status
from clarion.core.predicate import mapping_getter
from clarion.core.segment import Subject
from clarion.core.spec import CatalogSpec, ChannelStep, MessageSpec
from clarion.core.timing import next_allowed, zone


def dedup_key_of(spec: MessageSpec, event: Event) -> str | None:
    """The key that deduplicates ``spec``'s messages for ``event``, if it has one."""
    if spec.dedup is None:
        return None
    value = mapping_getter(spec.dedup.key)(event.payload)
    return None if isinstance(value, dict | list) or value is None else f"{spec.name}:{value}"


def still_wanted(spec: MessageSpec, profile: Profile, now: datetime) -> str | None:
    """The profile's own reason to refuse ``spec`` now (its category opted out, or the
    message dismissed for a while), if any; checked again on every escalation."""
    if spec.category in profile.opt_out_categories:
        return reasons.OPTED_OUT
    until = profile.suppressed_until.get(spec.name) if profile.suppressed_until else None
    if until is not None and until > now:
        return reasons.suppressed("dismiss")
    return None


def message_block(
    spec: MessageSpec,
    event: Event,
    profile: Profile,
    past: Sequence[PastMessage],
    dedup_key: str | None,
    now: datetime,
    due: datetime | None = None,
) -> str | None:
    """The message-level reason that stops every channel of ``spec``, if any; its caps
    count it at ``due``, when it would go out (default ``now``)."""
    if spec.segment is not None and not spec.segment(Subject(profile, event.payload)):
        return reasons.NOT_IN_SEGMENT
    wanted = still_wanted(spec, profile, now)
    if wanted is not None:
        return wanted
    if dedup_key is not None and spec.dedup is not None:
        since = now - spec.dedup.window
        for m in past:
            if (
                m.dedup_key == dedup_key
                and m.created_at > since
                and (m.status is not Status.SUPPRESSED or m.held_out)
            ):
                return reasons.DUPLICATE
    if not spec.transactional:
        cap = first_exceeded(
            past,
            due or now,
            spec.caps,
            lambda m: m.message == spec.name,
            per_event=True,
            held_out=True,
        )
        if cap is not None:
            return reasons.capped(cap.name)
    return None


def step_block(
    spec: MessageSpec,
    step: ChannelStep,
    profile: Profile,
    past: Sequence[PastMessage],
    catalog: CatalogSpec,
    now: datetime,
    due: datetime | None = None,
) -> tuple[str | None, tuple[str, ...]]:
    """The channel-level reason that stops ``step``, and the devices it would reach;
    caps count it at ``due``, when it would go out (default ``now``)."""
    channel = step.channel
    if channel in profile.opt_out_channels:
        return reasons.OPTED_OUT, ()
    devices: tuple[str, ...] = ()
    if (channel is Channel.EMAIL or channel in PHONE_CHANNELS) and not profile.address_for(
        channel, now
    ):
        return reasons.NO_ADDRESS, ()
    # In-app needs no device now: it waits in the in-app store, and each device is
    # checked for eligibility (platform, version, page) when it fetches.
    if channel is Channel.PUSH:
        devices = tuple(
            d.id
            for d in profile.devices
            if d.push_token and (not step.platforms or d.platform in step.platforms)
        )
        if not devices:
            return reasons.NO_ELIGIBLE_DEVICE, ()
    if not spec.transactional:
        policy = catalog.policy
        # In-app channel caps count impressions, so they apply when a device fetches.
        caps = policy.channel_caps.get(channel, ()) if channel is not Channel.INAPP else ()
        at = due or now
        cap = first_exceeded(past, at, caps, lambda m: m.channel is channel)
        if cap is None:
            cap = first_exceeded(past, at, policy.global_caps, lambda m: True)
        if cap is not None:
            return reasons.capped(cap.name), ()
    return None, devices


def schedule(
    spec: MessageSpec, event: Event, profile: Profile, catalog: CatalogSpec, now: datetime
) -> tuple[datetime | None, datetime | None, bool]:
    """(due time, expiry, whether a window moved it); due is None when none exists."""
    timing = spec.timing
    wanted = max(now, event.occurred_at + timing.delay)
    expires_at = event.occurred_at + timing.expires_after if timing.expires_after else None
    quiet = timing.quiet_hours
    if quiet is None and not (spec.transactional or timing.ignore_quiet_hours):
        quiet = catalog.policy.quiet_hours
    if timing.window is None and quiet is None:
        return wanted, expires_at, False  # no window to move it: due as wanted
    due = next_allowed(wanted, zone(profile.timezone), timing.window, quiet)
    return due, expires_at, due is not None and due != wanted
