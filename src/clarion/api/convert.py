"""Conversions between API bodies and domain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clarion.api.bounds import occurred_at_problem
from clarion.api.schemas import (
    AcceptedOut,
    DeviceIn,
    DeviceOut,
    EventIn,
    LifecycleOut,
    MessageOut,
    OptOuts,
    ProfileIn,
    ProfileOut,
    RungOut,
)
from clarion.config import Settings
from clarion.core.model import Channel, Device, Event, Profile
from clarion.store.records import Accepted, LadderRung, LifecycleEntry, MessageRecord


def to_event(body: EventIn, event_id: str, now: datetime) -> Event:
    return Event(
        id=event_id,
        type=body.type,
        profile_id=body.profile_id,
        occurred_at=body.occurred_at.astimezone(UTC) if body.occurred_at else now,
        payload=body.payload,
        account_id=body.account_id,
    )


def event_problem(body: EventIn, now: datetime, settings: Settings) -> str | None:
    """Why the event's ``occurred_at`` is refused (both intake paths ask), or None."""
    if body.occurred_at is None:
        return None
    ahead = timedelta(seconds=settings.event_max_future_seconds)
    return occurred_at_problem(body.occurred_at, now, ahead)


def accepted_out(accepted: Accepted) -> AcceptedOut:
    return AcceptedOut(
        id=accepted.event_id, duplicate=accepted.duplicate, received_at=accepted.received_at
    )


def to_profile(profile_id: str, body: ProfileIn) -> Profile:
    return Profile(
        id=profile_id,
        locale=body.locale,
        timezone=body.timezone,
        country=body.country,
        email=body.email,
        phone=body.phone,
        account_id=body.account_id,
        attributes=body.attributes,
        opt_out_channels=frozenset(c.value for c in body.opt_outs.channels),
        opt_out_categories=frozenset(body.opt_outs.categories),
    )


def to_device(device_id: str, body: DeviceIn) -> Device:
    return Device(
        id=device_id,
        platform=body.platform,
        app_version=body.app_version,
        locale=body.locale,
        push_token=body.push_token,
    )


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        platform=device.platform,
        app_version=device.app_version,
        locale=device.locale,
        push_token=device.push_token,
    )


def profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut(
        id=profile.id,
        locale=profile.locale,
        timezone=profile.timezone,
        country=profile.country,
        email=profile.email,
        phone=profile.phone,
        account_id=profile.account_id,
        attributes=dict(profile.attributes),
        opt_outs=OptOuts(
            channels=sorted(Channel(c) for c in profile.opt_out_channels),
            categories=sorted(profile.opt_out_categories),
        ),
        devices=[device_out(d) for d in profile.devices],
    )


def message_out(m: MessageRecord) -> MessageOut:
    # Field by field, by name: MessageOut states the API's contract and has the same
    # fields as the record (tests/unit/test_message_fields.py).
    return MessageOut.model_validate(m, from_attributes=True)


def lifecycle_out(entry: LifecycleEntry) -> LifecycleOut:
    return LifecycleOut(
        at=entry.at, status=entry.status, reason=entry.reason, detail=dict(entry.detail)
    )


def rung_out(rung: LadderRung) -> RungOut:
    m = rung.message
    return RungOut(
        rung=rung.rung,
        guid=m.guid,
        channel=m.channel,
        status=m.status,
        reason=m.reason,
        confirm_by=rung.confirm_by,
    )
