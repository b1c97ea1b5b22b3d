"""Request and response bodies; validation errors name each bad field."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from clarion.api.bounds import storable_problem
from clarion.core.model import Channel, Status
from clarion.core.timing import is_valid_zone

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@+\-]+$")]
EventType = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9_.:\-]*$")]


def _locale(value: str) -> str:
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"unknown locale '{value}' (use e.g. en, pt-BR)") from exc
    return value


def _zone(value: str) -> str:
    if not is_valid_zone(value):
        raise ValueError(f"unknown time zone '{value}' (use an IANA name, e.g. Europe/Lisbon)")
    return value


LocaleName = Annotated[str, Field(max_length=35), AfterValidator(_locale)]
ZoneName = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Email = Annotated[str, Field(max_length=320, pattern=_EMAIL.pattern)]
Phone = Annotated[
    str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +5511912345678")
]


#: The start of an RFC 3339 date-time (``2026-03-02T12:00:00Z``).
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]")


def _date_time(value: Any) -> Any:
    # Pydantic would also take a number, or a numeric string, as seconds since 1970:
    # the API documents (and takes) only date-time strings.
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time, e.g. 2026-03-02T12:00:00Z")


#: A time in a request: an RFC 3339 date-time string (with or without an offset).
Time = Annotated[datetime, BeforeValidator(_date_time)]
#: A time in a request that must say its offset.
AwareTime = Annotated[AwareDatetime, BeforeValidator(_date_time)]


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so are values no store can
    hold (``clarion.api.bounds``), each error naming its field."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        problem = storable_problem(value, info.field_name or "")
        if problem:
            raise ValueError(problem)
        return value


class EventIn(Strict):
    """A product event. ``id`` (or the ``Idempotency-Key`` header) makes repeats no-ops."""

    id: Id | None = None
    type: EventType
    profile_id: Id
    account_id: Id | None = None
    occurred_at: AwareTime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class EventBatchIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class AcceptedOut(BaseModel):
    id: str
    status: str = "accepted"
    duplicate: bool
    received_at: datetime


class BatchAcceptedOut(BaseModel):
    results: list[AcceptedOut]


class OptOuts(Strict):
    channels: list[Channel] = Field(default_factory=list)
    categories: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list
    )


class ProfileIn(Strict):
    locale: LocaleName = "en"
    timezone: ZoneName = "UTC"
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    email: Email | None = None
    phone: Phone | None = None
    account_id: Id | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    opt_outs: OptOuts = Field(default_factory=OptOuts)


class DeviceIn(Strict):
    platform: Annotated[str, Field(pattern=r"^(web|ios|android|tv)$")]
    app_version: Annotated[str, Field(max_length=40)] | None = None
    locale: LocaleName | None = None
    push_token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None


class DeviceOut(DeviceIn):
    id: str


class ProfileOut(ProfileIn):
    id: str
    devices: list[DeviceOut]


class LifecycleOut(BaseModel):
    at: datetime
    status: Status
    reason: str | None
    detail: dict[str, Any]


class MessageOut(BaseModel):
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
    due_at: datetime | None
    expires_at: datetime | None
    attempts: int
    devices: list[str]
    provider: str | None
    provider_ref: str | None
    ab_test_id: int | None = None
    ab_test_cell: int | None = None


class RungOut(BaseModel):
    """One rung of an escalation ladder: which message, on which channel, how it went."""

    rung: int
    guid: str
    channel: Channel
    status: Status
    reason: str | None
    #: Until when the ladder waits for this rung's delivery; null once settled.
    confirm_by: datetime | None


class MessageWithTimeline(MessageOut):
    timeline: list[LifecycleOut]
    #: The escalation ladder this message is on, every rung created so far; empty if none.
    escalation: list[RungOut] = []


class MessagePage(BaseModel):
    messages: list[MessageOut]
    next_cursor: str | None
