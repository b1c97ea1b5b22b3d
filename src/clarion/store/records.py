"""Values the store reads and writes, beyond the core's domain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from clarion.core.delivery import BadAddress
from clarion.core.model import Channel, Event, JSONObject, Profile, Status


@dataclass(frozen=True, slots=True)
class Accepted:
    """Intake's answer for one event; a repeat returns the original answer."""

    event_id: str
    received_at: datetime
    duplicate: bool


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An accepted event and where intake and orchestration are with it.

    ``state`` is ``pending``, ``processing`` (claimed, or waiting for a retry after
    ``attempts`` failures), ``done`` or ``dead`` (dead-lettered after its last
    attempt; ``last_error`` says why)."""

    event: Event
    state: str
    received_at: datetime
    processed_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None


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
    ab_test_id: int | None = None
    ab_test_cell: int | None = None


@dataclass(frozen=True, slots=True)
class LadderRung:
    """A message on an escalation ladder: its rung number, and until when the ladder
    waits for its delivery (``None`` once settled, and on the last rung)."""

    message: MessageRecord
    rung: int
    confirm_by: datetime | None = None


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
    bad_address: BadAddress | None = None  # recorded for the message's profile
    #: The message's attempt count to store instead of the claim's: a message
    #: rescheduled without a call (rate limit) gives its attempt back.
    attempts: int | None = None


@dataclass(frozen=True, slots=True)
class ReportApplied:
    """What a delivery report did: the message it names, its status after, and
    whether anything was recorded (False for a repeat or a late report)."""

    guid: str
    status: Status
    applied: bool


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

    @property
    def fallback(self) -> str | None:
        """After a failed federated call, the fallback's action ("" for none): the alert
        is shown as its fallback until a CTA of that ends it. None otherwise."""
        if self.acted_at is not None or not self.action or not self.action.startswith(FALLBACK):
            return None
        return self.action.removeprefix(FALLBACK)


#: How ``InAppState.action`` marks an alert shown as its fallback (no CTA taken yet).
FALLBACK = "fallback:"


@dataclass(frozen=True, slots=True)
class LiveInApp:
    """An in-app message that a device may be shown, with its per-profile state."""

    message: MessageRecord
    state: InAppState
    event: Event


@dataclass(frozen=True, slots=True)
class InAppView:
    """What a device's fetch reads, in one round trip: the profile's live in-app
    messages (newest first), the names of the messages it dismissed (still in
    force), and the profile's own fields (no devices or dismissals: what
    templates see), or None when there are no live messages or no profile."""

    live: tuple[LiveInApp, ...]
    suppressed: frozenset[str]
    profile: Profile | None


@dataclass(frozen=True, slots=True)
class Suppression:
    """A dismissal: the message stays hidden for the profile until ``until``."""

    message: str
    until: datetime
    reason: str
    all_channels: bool = False


@dataclass(frozen=True, slots=True)
class FeedbackReceipt:
    """That one feedback object took effect (``key``: ``FeedbackBody.once_key``); kept
    until the object expires, after which it is refused anyway."""

    key: str
    expires_at: datetime


#: What delivery insights may group messages by.
INSIGHT_GROUPS = ("channel", "provider", "country", "status", "reason", "error_code", "message")


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """Messages created in ``[since, until)``, counted per time bucket (aligned to the
    Unix epoch, so UTC days for ``bucket_seconds=86400``) and per ``group_by`` values."""

    since: datetime
    until: datetime
    bucket_seconds: int
    group_by: tuple[str, ...] = ("channel", "status")  # among INSIGHT_GROUPS
    channel: Channel | None = None
    provider: str | None = None
    message: str | None = None
    country: str | None = None
    status: Status | None = None


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """How many messages one bucket holds for one combination of group values."""

    start: datetime
    group: tuple[str | None, ...]  # in the order of ``DeliveryQuery.group_by``
    count: int


@dataclass(frozen=True, slots=True)
class EventFailure:
    """What became of an event whose processing raised: retried at ``retry_at``, or
    dead-lettered (``retry_at`` None) after its last attempt."""

    event_id: str
    attempts: int
    retry_at: datetime | None

    @property
    def dead(self) -> bool:
        return self.retry_at is None


@dataclass(frozen=True, slots=True)
class Holding:
    """The partitions a worker holds after renewing its leases (``hold_partitions``)."""

    held: frozenset[int]
    taken: frozenset[int]  # free or expired ones it took now
    released: frozenset[int]  # ones it gave up for a fair share
    workers: int  # the live workers the partitions are shared by
    peers: tuple[str, ...] = ()  # their names (this one included)


#: How an incrementality report groups decisions (``Store.profile_counts``).
Breakdown = Literal["total", "channel", "cell", "week"]
#: ``{profile: (decisions, conversions)}``.
ProfileCounts = dict[str, tuple[int, int]]
#: (message, group, arm) -> counts; ``group`` is None for "total", the channel,
#: the cell index, or the ISO date of the week's Monday.
Grouped = dict[tuple[str, str | int | None, str], ProfileCounts]


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which decisions a report covers: one message or all, decided in [since, until)."""

    message: str | None = None
    since: datetime | None = None
    until: datetime | None = None
