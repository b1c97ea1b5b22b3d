"""Small catalogs and profiles built in code, for the pure core's tests."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from clarion.core.model import Channel, Device, Event, Profile
from clarion.core.spec import (
    Audience,
    Cap,
    CatalogSpec,
    ChannelMode,
    ChannelStep,
    LocalWindow,
    MessageSpec,
    Policy,
    Timing,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


def step(index: int, channel: Channel, **kw: object) -> ChannelStep:
    return ChannelStep(index, channel, {"body": "k.body"}, **kw)  # type: ignore[arg-type]


def message(name: str = "promo", trigger: str = "thing.happened", **kw: object) -> MessageSpec:
    fields: dict[str, object] = {
        "id": 1,
        "category": "engagement",
        "channels": (step(0, Channel.PUSH),),
    }
    fields.update(kw)
    return MessageSpec(name=name, trigger=trigger, **fields)  # type: ignore[arg-type]


def catalog(*messages: MessageSpec, policy: Policy | None = None) -> CatalogSpec:
    return CatalogSpec({m.name: m for m in messages}, policy or Policy())


def profile(pid: str = "p1", **kw: object) -> Profile:
    fields: dict[str, object] = {
        "email": f"{pid}@example.com",
        "phone": "+15551234567",
        "devices": (Device("d1", "ios", "1.0", None, "tok-1"),),
    }
    fields.update(kw)
    return Profile(id=pid, **fields)  # type: ignore[arg-type]


def event(
    eid: str = "e1", etype: str = "thing.happened", pid: str = "p1", at: datetime = T0, **kw: object
) -> Event:
    return Event(id=eid, type=etype, profile_id=pid, occurred_at=at, **kw)  # type: ignore[arg-type]


__all__ = [
    "T0",
    "Audience",
    "Cap",
    "ChannelMode",
    "LocalWindow",
    "Timing",
    "catalog",
    "event",
    "message",
    "profile",
    "step",
    "time",
    "timedelta",
]
