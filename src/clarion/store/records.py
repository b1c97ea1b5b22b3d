"""Values the store reads and writes, beyond the core's domain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from clarion.core.model import Channel, Event, JSONObject, Profile, Status


@dataclass(frozen=True, slots=True)
class Accepted:
    """Intake's answer for one event; a repeat returns the original answer."""

    event_id: str
    received_at: datetime
    duplicate: bool


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A message as stored, for dispatch and for the API."""

    guid: str
    event_id: str
    profile_id: str
    message: str
    message_id: int
    category: str
    channel: Channel
    step: int
    status: Status
    reason: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    devices: tuple[str, ...] = ()
    provider: str | None = None
    provider_ref: str | None = None


@dataclass(frozen=True, slots=True)
class LifecycleEntry:
    """One state change of a message, appended and never changed."""

    guid: str
    at: datetime
    status: Status
    reason: str | None = None
    detail: JSONObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message claimed for dispatch, with what rendering needs."""

    message: MessageRecord
    event: Event
    profile: Profile
    lease_owner: str
    #: The previous attempt, when its outcome is unknown (a crash after an
    #: ``attempt`` entry, or an error that left it unconfirmed): its lifecycle
    #: detail (``provider``, ``attempt``). Sending again may deliver twice.
    unconfirmed: JSONObject | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A dispatcher's verdict on a claimed message.

    ``status`` SENT/DELIVERED/FAILED/EXPIRED end the attempt; SCHEDULED with a
    ``retry_at`` puts it back for another attempt. Applied only while
    ``lease_owner`` still holds the lease.
    """

    guid: str
    lease_owner: str
    status: Status
    reason: str | None = None
    retry_at: datetime | None = None
    provider: str | None = None
    provider_ref: str | None = None
    detail: JSONObject = field(default_factory=dict)
    #: The message's attempt count to store instead of the claim's: a message
    #: rescheduled without a call (rate limit) gives its attempt back.
    attempts: int | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """A call about to be made to a provider without idempotency keys, recorded
    before it (docs/delivery.md, "Effectively once")."""

    guid: str
    lease_owner: str
    provider: str
    attempt: int
    possible_duplicate: bool = False


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Filters for a profile's messages, newest first; ``before`` is the page cursor."""

    profile_id: str
    message: str | None = None
    channel: Channel | None = None
    status: Status | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    before: tuple[datetime, str] | None = None  # (created_at, guid) of the last row seen


@dataclass(frozen=True, slots=True)
class InAppState:
    """What a profile did with one in-app message, on any device."""

    impressions: int = 0
    last_seen_at: datetime | None = None
    acted_at: datetime | None = None
    action: str | None = None
    read_at: datetime | None = None
    archived_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LiveInApp:
    """An in-app message that a device may be shown, with its per-profile state."""

    message: MessageRecord
    state: InAppState
    event: Event


@dataclass(frozen=True, slots=True)
class Suppression:
    """A dismissal: the message stays hidden for the profile until ``until``."""

    message: str
    until: datetime
    reason: str
    all_channels: bool = False
