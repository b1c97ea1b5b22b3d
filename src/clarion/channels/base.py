"""The provider protocol: one neutral rendered message in, a receipt or an error out.

Channel modules (email, push, SMS, voice, in-app, webhook) implement ``Provider``;
the dispatcher knows nothing else about them. Errors are mapped to the two
exceptions below at the adapter's edge, so retry and failover policy live in one
place (docs/delivery.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import ClassVar, Protocol

from clarion.core.contracts import CONTRACTS, ChannelCopy, ChannelOptions, NoOptions
from clarion.core.model import Channel, JSONObject


@dataclass(frozen=True, slots=True)
class DeviceAddress:
    """A device a push or in-app message goes to."""

    id: str
    platform: str
    push_token: str | None = None
    app_version: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message rendered in its recipient's locale, ready for a provider.

    ``guid`` is stable across retries and is the idempotency key wherever the
    provider accepts one. ``fields`` hold the localized copy per content field
    (``content`` the same, typed by the channel) in Clarion's copy markup
    (``**bold**``, ``[text](url)``, newlines); providers turn it into their own
    format with ``clarion.core.markup``.
    """

    guid: str
    channel: Channel
    message: str
    message_id: int
    category: str
    profile_id: str
    locale: str
    fields: Mapping[str, str]
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    devices: tuple[DeviceAddress, ...] = ()
    attempt: int = 1
    tracking: JSONObject = field(default_factory=dict)
    #: The step's options, typed by its channel and checked when the catalog loaded.
    options: ChannelOptions = field(default_factory=NoOptions)
    #: Derived: ``fields`` typed by the channel (``EmailCopy``, ``PushCopy``, ...): what
    #: a provider of that channel reads; ``fields`` stay for those that forward them all.
    content: ChannelCopy = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", CONTRACTS[self.channel].copy(self.fields))


@dataclass(frozen=True, slots=True)
class Receipt:
    """A provider accepted the message; ``ref`` is its own id for it, if any."""

    provider: str
    ref: str | None = None
    delivered: bool = False  # True when acceptance already means delivery (sink, in-app)
    detail: JSONObject = field(default_factory=dict)


class ErrorScope(StrEnum):
    """What an error is about, which decides whether another provider may do better."""

    #: This message or its recipient (an invalid number, rejected content, a full
    #: mailbox): another provider of the channel would fail the same way.
    ADDRESS = "address"
    #: The provider itself (credentials, configuration, an outage, throttling, a
    #: timeout): the channel's next provider, if any, takes over.
    PROVIDER = "provider"


class ProviderError(Exception):
    """A provider did not take the message.

    ``scope`` says whether the channel may fail over to its next provider (see
    ``ErrorScope``; by default transient errors are the provider's, permanent ones
    the address's). ``unconfirmed`` says the provider may have acted on the request
    anyway (the request went out and the answer was lost: a read timeout, a dropped
    connection), so a retry through a provider without idempotency keys may
    deliver twice.
    """

    default_scope: ClassVar[ErrorScope] = ErrorScope.ADDRESS

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        scope: ErrorScope | None = None,
        unconfirmed: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.scope = scope if scope is not None else self.default_scope
        self.unconfirmed = unconfirmed


class TransientError(ProviderError):
    """Worth retrying later (timeouts, 429, 5xx); ``retry_after`` seconds if the provider said."""

    default_scope = ErrorScope.PROVIDER

    def __init__(
        self,
        code: str,
        message: str = "",
        retry_after: float | None = None,
        *,
        scope: ErrorScope | None = None,
        unconfirmed: bool = False,
    ) -> None:
        super().__init__(code, message, scope=scope, unconfirmed=unconfirmed)
        self.retry_after = retry_after


class PermanentError(ProviderError):
    """Never worth retrying with this provider (bad address, rejected content, bad
    credentials); with ``scope=ErrorScope.PROVIDER`` the next provider is tried."""


class BadAddressError(PermanentError):
    """The address cannot receive this channel (invalid, not a mobile number, a
    handset that is off).

    The dispatcher records it against the profile, so it is not used again on the
    channels its ``kind`` names (``clarion.core.model.ADDRESS_KINDS``) until the
    profile's address changes, or for ``lasts`` when the cause is temporary.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        kind: str,
        value: str,
        lasts: timedelta | None = None,
    ) -> None:
        super().__init__(code, message)
        self.kind = kind
        self.value = value
        self.lasts = lasts


class Provider(Protocol):
    """Sends rendered messages on one or more channels (``channels``).

    ``idempotent`` (a class attribute) is True when the provider deduplicates on
    ``Outgoing.guid`` (it sends it as an idempotency key, or keeps the message
    under it), so a repeated send never reaches the recipient twice. For other
    providers the dispatcher records each attempt before the call
    (docs/delivery.md, "Effectively once").
    """

    name: str
    idempotent: bool
    #: The channels it serves (a class attribute); a route that sends another channel
    #: to it is refused at start (``clarion.channels.routing``).
    channels: frozenset[Channel]

    async def send(self, message: Outgoing) -> Receipt:
        """Send one message; raise ``TransientError`` or ``PermanentError`` on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...
