"""What providers report after a send: a message's later status, an address's limits.

Domain values, not storage rows: channels make them from a provider's callbacks
(``clarion.channels.twilio_status``) and errors (``runtime.verdicts``), and the
store applies them. They live in the core so a channel needs no store to say them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from clarion.core.model import JSONObject, Status


@dataclass(frozen=True, slots=True)
class BadAddress:
    """What a provider said an address cannot receive (a number that does not exist,
    a landline, a handset that is off).

    Stored against the profile; while it is still the profile's address, the
    channels its ``kind`` names (``clarion.core.model.ADDRESS_KINDS``) treat the
    profile as having none (``Profile.address_limits``), for ``lasts`` after it was
    recorded, or (``None``) until the profile's address changes.
    """

    kind: str  # "phone", "sms" or "email"
    value: str
    code: str  # the provider's error code, e.g. "twilio:21211"
    lasts: timedelta | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A provider's later word on a message it accepted, found by its reference.

    ``status`` is SENT (still on its way: a lifecycle entry, no change), DELIVERED
    or FAILED. Reports only move a message forward: a sent message may become
    delivered or failed, and nothing changes a delivered or failed one.
    """

    provider_ref: str
    status: Status
    reason: str | None = None
    detail: JSONObject = field(default_factory=dict)
    bad_address: BadAddress | None = None
