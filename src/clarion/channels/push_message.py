"""What the three push services share: the notification built from a rendered push
message, the error for a token the service no longer knows, and reading a
service's error reply.

A push message's content fields ``title`` and ``body`` (Clarion's copy markup,
sent as plain text) and its options (``PushOptions``: ``deep_link``, ``sound``,
``badge``, ``priority``, ``ttl``, checked when the catalog loaded) become one
``Notification``, the same for every device of the message; each service client
turns it into its own wire format.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from clarion.channels.base import Outgoing, PermanentError, ProviderError, TransientError
from clarion.channels.http_status import error_for_status
from clarion.core.contracts import PushCopy, PushOptions
from clarion.core.markup import to_plain

#: Namespace of the UUIDs derived from message guids (``Notification.push_id``).
PUSH_ID_NAMESPACE = uuid.UUID("6f1c3a52-9d7e-4b8a-a1f0-3c2e5d4b7a91")


@dataclass(frozen=True, slots=True)
class Notification:
    """One push notification, ready for any service.

    ``push_id`` is a UUID derived from the message guid, so every retry of a
    message carries the same one: the APNs ``apns-id`` and collapse id, the FCM
    notification tag and the Web Push ``Topic``. A repeat therefore replaces the
    notification on the device instead of showing a second one.
    """

    guid: str
    push_id: str
    title: str
    body: str
    deep_link: str | None = None
    sound: str | None = None
    badge: int | None = None
    urgent: bool = True
    ttl: int = 86_400  # seconds the service may hold it for an offline device

    def data(self) -> dict[str, str]:
        """Custom key-value data for the app (string values: FCM accepts no others)."""
        data = {"guid": self.guid}
        if self.deep_link is not None:
            data["deep_link"] = self.deep_link
        return data


class TokenRejected(PermanentError):
    """The service says the device's token is no longer valid (unregistered, expired).

    ``reason`` is the service's own word for it. The push provider removes the token
    from the device and goes on with the message's other devices.
    """

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__("unregistered", f"{reason}: {message}" if message else reason)
        self.reason = reason


def push_id(guid: str) -> str:
    """The UUID that stands for message ``guid`` at the push services."""
    return str(uuid.uuid5(PUSH_ID_NAMESPACE, guid))


def notification_of(message: Outgoing, default_ttl: int) -> Notification:
    """The notification for ``message``; ``PermanentError`` without a title or a body."""
    options = message.options if isinstance(message.options, PushOptions) else PushOptions()
    copy = message.content
    if not isinstance(copy, PushCopy):
        raise PermanentError("wrong_channel", f"push cannot send a {message.channel} message")
    title, body = to_plain(copy.title), to_plain(copy.body)
    if not title and not body:
        raise PermanentError("empty_content", "a push message needs a title or a body")
    return Notification(
        guid=message.guid,
        push_id=push_id(message.guid),
        title=title,
        body=body,
        deep_link=options.deep_link,
        sound=options.sound,
        badge=options.badge,
        urgent=options.priority == "high",
        ttl=options.ttl if options.ttl is not None else default_ttl,
    )


def service_error(
    status: int, reason: str | None, retry_after: str | None, now: float, detail: str = ""
) -> ProviderError:
    """The error for a failed reply: transient for 429/5xx (with ``Retry-After``),
    otherwise permanent, coded with the service's ``reason`` when it gave one."""
    error = error_for_status(status, retry_after, now) or PermanentError(f"http_{status}")
    message = "; ".join(part for part in (reason or "", detail) if part)
    if isinstance(error, TransientError):
        return TransientError(error.code, message, retry_after=error.retry_after)
    if reason:
        text = "; ".join(part for part in (f"http {status}", detail) if part)
        return PermanentError(reason, text, scope=error.scope)
    return PermanentError(error.code, message, scope=error.scope)
