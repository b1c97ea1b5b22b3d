"""Domain values shared by every layer: events, profiles, devices, message history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

JSONObject = Mapping[str, object]


class Channel(StrEnum):
    """A delivery channel. In-app is stored until a device fetches it."""

    INAPP = "inapp"
    PUSH = "push"
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    WEBHOOK = "webhook"


class Status(StrEnum):
    """Where a message is in its life. Terminal states never change again."""

    SCHEDULED = "scheduled"  # waiting for its due time (delay, send window)
    SENDING = "sending"  # claimed by a dispatcher under a lease
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"  # confirmed by a delivery receipt
    FAILED = "failed"  # dead-lettered after retries or a permanent provider error
    SUPPRESSED = "suppressed"  # decided against; ``reason`` says which rule
    CANCELLED = "cancelled"  # a cancel-on or goal event arrived while pending
    EXPIRED = "expired"  # could not be sent before its expiry
    RESOLVED = "resolved"  # a live in-app message whose goal (or cancel-on) event arrived


#: Statuses that count against frequency caps and dedup: the message is or will be out.
COUNTED = frozenset({Status.SCHEDULED, Status.SENDING, Status.SENT, Status.DELIVERED})
#: Statuses a message can still leave by cancellation.
PENDING = frozenset({Status.SCHEDULED})
#: Statuses of an in-app message that devices may still be shown (resolvable).
LIVE_INAPP = frozenset({Status.SENT, Status.DELIVERED})
#: Channels that reach a profile at its phone number.
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})
#: What a provider's verdict on an address stops, by the kind recorded for it: a
#: ``phone`` that does not exist takes neither SMS nor calls; an ``sms`` limit (a
#: landline, a handset that is off) stops SMS only, so the voice fallback still runs.
ADDRESS_KINDS: Mapping[str, frozenset[Channel]] = {
    "phone": PHONE_CHANNELS,
    "sms": frozenset({Channel.SMS}),
    "email": frozenset({Channel.EMAIL}),
}


@dataclass(frozen=True, slots=True)
class Event:
    """A product event, as accepted by intake."""

    id: str
    type: str
    profile_id: str
    occurred_at: datetime
    payload: JSONObject = field(default_factory=dict)
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """A device of a profile; push needs a token."""

    id: str
    platform: str
    app_version: str | None = None
    locale: str | None = None
    push_token: str | None = None


@dataclass(frozen=True, slots=True)
class AddressLimit:
    """What a provider said an address cannot receive: ``channels`` (a number that
    does not exist: SMS and voice; a landline: SMS only), until ``until`` (``None``:
    for as long as it is the profile's address; a handset that was off: a while)."""

    value: str
    channels: frozenset[Channel]
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """A person who receives messages, with their preferences and addresses."""

    id: str
    locale: str = "en"
    timezone: str = "UTC"
    country: str | None = None
    email: str | None = None
    phone: str | None = None
    account_id: str | None = None
    attributes: JSONObject = field(default_factory=dict)
    opt_out_channels: frozenset[str] = frozenset()
    opt_out_categories: frozenset[str] = frozenset()
    devices: tuple[Device, ...] = ()
    #: Messages the profile dismissed on every channel, and until when (in-app feedback).
    suppressed_until: Mapping[str, datetime] = field(default_factory=dict)
    #: What providers said the profile's addresses cannot receive; while the profile's
    #: phone or email is limited on a channel, that channel treats it as absent.
    address_limits: tuple[AddressLimit, ...] = ()

    def contact(self, channel: Channel) -> str | None:
        """The profile's address on ``channel`` (phone for SMS and voice, email), as
        stored; ``None`` for channels that need none."""
        if channel is Channel.EMAIL:
            return self.email
        return self.phone if channel in PHONE_CHANNELS else None

    def address_for(self, channel: Channel, now: datetime) -> str | None:
        """The address ``channel`` reaches the profile at (``contact``), unless it is
        missing or a provider's limit on it still holds."""
        address = self.contact(channel)
        if not address:
            return None
        for limit in self.address_limits:
            if (
                limit.value == address
                and channel in limit.channels
                and (limit.until is None or limit.until > now)
            ):
                return None
        return address


@dataclass(frozen=True, slots=True)
class ScopedCancel:
    """A cancel-on event that cancels a message only when its payload holds the
    triggering event's values: ``values`` pairs a dotted payload path with the value
    the triggering event had there (``None`` when it had none). Bound when the message
    is decided (``clarion.core.cancel``), so a later event is matched without the
    triggering event at hand."""

    event: str
    values: tuple[tuple[str, object], ...]


#: A message's cancel-on entry: an event type (any such event cancels it), or scoped.
CancelOn = str | ScopedCancel


@dataclass(frozen=True, slots=True)
class PastMessage:
    """What decide() needs to know about a message a profile already has."""

    guid: str
    message: str
    channel: Channel
    status: Status
    created_at: datetime
    dedup_key: str | None = None
    cancel_on: tuple[CancelOn, ...] = ()
    event_id: str = ""
    #: The message is a rung of an escalation ladder that may still move on.
    escalating: bool = False
    #: Held out (suppressed, ``held_out``): it counts against its own message's caps and
    #: dedup as the send it replaced would, so both arms of a holdout stay comparable.
    held_out: bool = False
    #: When it was (or will be) due to go out; caps count it then (``caps.counted_at``).
    due_at: datetime | None = None
    #: An in-app message's first impression on any device (None: not shown yet).
    first_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeadPushToken:
    """A device token a push service reported dead while sending message ``guid``.

    ``detail`` (device, platform, service, the service's reason) goes into the
    message's lifecycle log."""

    profile_id: str
    device_id: str
    token: str
    guid: str
    detail: JSONObject = field(default_factory=dict)
