"""Conversions between domain values and rows: times, enums, JSON-held collections."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from clarion.core import reasons
from clarion.core.decision import Decision
from clarion.core.model import (
    AddressLimit,
    CancelOn,
    Channel,
    Device,
    Event,
    PastMessage,
    Profile,
    ScopedCancel,
    Status,
)
from clarion.store.records import LifecycleEntry, MessageRecord
from clarion.store.schema import PENDING, events, lifecycle, messages

Row = Any  # sqlalchemy Row: columns read by attribute

# Enum lookups by value, several times faster than calling the enum, and the
# reverse: a dict lookup is faster than the ``.value`` descriptor.
_CHANNELS = {channel.value: channel for channel in Channel}
_STATUSES = {status.value: status for status in Status}
_VALUES: dict[Channel | Status, str] = {m: m.value for m in (*Channel, *Status)}

#: Columns that make a MessageRecord: one per field, of the same name and in its order.
MESSAGE_COLUMNS = tuple(messages.c[f.name] for f in fields(MessageRecord))
EVENT_COLUMNS = tuple(
    events.c[name]
    for name in ("id", "type", "profile_id", "account_id", "occurred_at", "received_at", "payload")
)
LIFECYCLE_COLUMNS = tuple(
    lifecycle.c[name] for name in ("guid", "at", "status", "reason", "detail")
)


def ts(value: datetime) -> float:
    """Epoch seconds; a naive datetime is taken as UTC (never as local time)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def opt_ts(value: datetime | None) -> float | None:
    return None if value is None else ts(value)


def dt(value: float) -> datetime:
    """A tz-aware UTC datetime; exact to the microsecond for any ``ts()`` result."""
    return datetime.fromtimestamp(value, UTC)


def opt_dt(value: float | None) -> datetime | None:
    return None if value is None else dt(value)


def event_row(event: Event, received_at: float, seq: int, partition: int) -> dict[str, object]:
    return {
        "id": event.id,
        "type": event.type,
        "profile_id": event.profile_id,
        "account_id": event.account_id,
        "occurred_at": ts(event.occurred_at),
        "received_at": received_at,
        "seq": seq,
        "payload": event.payload,
        "partition": partition,
        "state": PENDING,
    }


def event_of(row: Row) -> Event:
    return Event(
        id=row.id,
        type=row.type,
        profile_id=row.profile_id,
        occurred_at=dt(row.occurred_at),
        payload=row.payload,
        account_id=row.account_id,
    )


def profile_row(profile: Profile, now: float) -> dict[str, object]:
    return {
        "id": profile.id,
        "account_id": profile.account_id,
        "locale": profile.locale,
        "timezone": profile.timezone,
        "country": profile.country,
        "email": profile.email,
        "phone": profile.phone,
        "attributes": profile.attributes,
        "opt_out_channels": sorted(profile.opt_out_channels),
        "opt_out_categories": sorted(profile.opt_out_categories),
        "created_at": now,
        "updated_at": now,
    }


def profile_of(
    row: Row,
    devices: tuple[Device, ...],
    suppressed_until: Mapping[str, datetime] | None = None,
    address_limits: tuple[AddressLimit, ...] = (),
) -> Profile:
    return Profile(
        id=row.id,
        locale=row.locale,
        timezone=row.timezone,
        country=row.country,
        email=row.email,
        phone=row.phone,
        account_id=row.account_id,
        attributes=row.attributes,
        opt_out_channels=frozenset(row.opt_out_channels),
        opt_out_categories=frozenset(row.opt_out_categories),
        devices=devices,
        suppressed_until=suppressed_until or {},
        address_limits=address_limits,
    )


def device_row(profile_id: str, device: Device, now: float) -> dict[str, object]:
    return {
        "profile_id": profile_id,
        "device_id": device.id,
        "platform": device.platform,
        "app_version": device.app_version,
        "locale": device.locale,
        "push_token": device.push_token,
        "updated_at": now,
    }


def device_of(row: Row) -> Device:
    return Device(
        id=row.device_id,
        platform=row.platform,
        app_version=row.app_version,
        locale=row.locale,
        push_token=row.push_token,
    )


#: The fields of a Decision stored as they are (``decision_row`` converts the rest).
_AS_IS = (frozenset(Decision._fields) & set(messages.c.keys())) - {
    "channel",
    "status",
    "created_at",
    "due_at",
    "expires_at",
    "confirm_by",
    "devices",
    "cancel_on",
}


def decision_row(decision: Decision, now: float) -> dict[str, object]:
    """The row of a new message: every field of ``decision`` that has a column of its
    name, converted where the column holds another type, and the dispatch state."""
    row: dict[str, object] = {
        name: value
        for name, value in zip(Decision._fields, decision, strict=True)
        if name in _AS_IS
    }
    row["channel"] = _VALUES[decision.channel]
    row["status"] = _VALUES[decision.status]
    row["created_at"] = ts(decision.created_at)
    row["due_at"] = opt_ts(decision.due_at)
    row["expires_at"] = opt_ts(decision.expires_at)
    row["confirm_by"] = opt_ts(decision.confirm_by)
    row["devices"] = list(decision.devices)
    row["cancel_on"] = cancel_on_json(decision.cancel_on)
    row["updated_at"] = now
    row["attempts"] = 0
    return row


def decision_detail(decision: Decision) -> dict[str, object]:
    """What the first lifecycle entry of a message records beyond status and reason."""
    detail: dict[str, object] = {"event_id": decision.event_id}
    if decision.due_at is not None:
        detail["due_at"] = decision.due_at.isoformat()
    if decision.expires_at is not None:
        detail["expires_at"] = decision.expires_at.isoformat()
    if decision.devices:
        detail["devices"] = list(decision.devices)
    if decision.ladder is not None:
        detail["ladder"] = decision.ladder
        detail["rung"] = decision.rung
        if decision.escalated_from is not None:
            detail["escalated_from"] = decision.escalated_from
        if decision.confirm_by is not None:
            detail["confirm_by"] = decision.confirm_by.isoformat()
    if decision.ab_test_id is not None:  # the exposure, in the contract's spelling
        detail["abTestId"] = decision.ab_test_id
        detail["abTestCell"] = decision.ab_test_cell
    return detail


#: How each column of ``MESSAGE_COLUMNS`` becomes its MessageRecord field (None: as is).
_READERS: dict[str, Callable[[Any], Any]] = {
    "channel": _CHANNELS.__getitem__,
    "status": _STATUSES.__getitem__,
    "created_at": dt,
    "updated_at": dt,
    "due_at": opt_dt,
    "expires_at": opt_dt,
    "devices": tuple,
}
_MESSAGE_READERS = tuple(_READERS.get(f.name) for f in fields(MessageRecord))


def message_of(row: Row) -> MessageRecord:
    """A message from a row of ``MESSAGE_COLUMNS``, read by position (the hot path of claims)."""
    return MessageRecord(
        *[
            value if read is None else read(value)
            for read, value in zip(_MESSAGE_READERS, row, strict=True)
        ]
    )


def cancel_on_json(entries: Sequence[CancelOn]) -> list[object]:
    """A message's cancel-on entries as stored: an event type, or a scoped one as
    ``{"event": type, "match": {path: value}}``."""
    return [
        e if isinstance(e, str) else {"event": e.event, "match": dict(e.values)} for e in entries
    ]


def cancel_on_of(stored: Sequence[object]) -> tuple[CancelOn, ...]:
    return tuple(
        ScopedCancel(str(e["event"]), tuple(dict(e["match"]).items()))
        if isinstance(e, dict)
        else str(e)
        for e in stored
    )


#: What ``past_of`` reads (with ``inapp_state.first_seen_at``): the columns of
#: PastMessage's fields of the same name, the profile the history is grouped by,
#: and the columns ``escalating`` and ``held_out`` are read from.
PAST_COLUMNS = (
    *(messages.c[f.name] for f in fields(PastMessage) if f.name in messages.c),
    messages.c.profile_id,
    messages.c.confirm_by,
    messages.c.reason,
)


def past_of(row: Row) -> PastMessage:
    return PastMessage(
        guid=row.guid,
        message=row.message,
        channel=_CHANNELS[row.channel],
        status=_STATUSES[row.status],
        created_at=dt(row.created_at),
        dedup_key=row.dedup_key,
        cancel_on=cancel_on_of(row.cancel_on),
        event_id=row.event_id,
        escalating=row.confirm_by is not None,
        held_out=row.reason == reasons.HELD_OUT,
        due_at=opt_dt(row.due_at),
        first_seen_at=opt_dt(row.first_seen_at),
    )


def lifecycle_of(row: Row) -> LifecycleEntry:
    return LifecycleEntry(
        guid=row.guid,
        at=dt(row.at),
        status=_STATUSES[row.status],
        reason=row.reason,
        detail=row.detail,
    )


def lifecycle_row(
    guid: str, at: float, status: Status, reason: str | None, detail: object
) -> dict[str, object]:
    return {"guid": guid, "at": at, "status": _VALUES[status], "reason": reason, "detail": detail}
