"""The push provider: one message to every eligible device of a profile, each device
through the service of its platform (iOS: APNs, Android: FCM, web: Web Push).

Why one provider for three services: the pipeline routes a *channel* to a
provider, and one push message reaches an iPhone, an Android tablet and a
browser at once. So the ``push`` provider holds a client per service, picks one
per device, sends to all devices concurrently, and reports each device's outcome
in ``Receipt.detail["devices"]`` (and so in the message's timeline).

Outcomes, per message:

* a device whose token the service reports dead (unregistered, expired) has its
  token removed from the store, only if it still holds that token; the removal
  is recorded in the message's lifecycle log and the other devices go on;
* some device accepted the message: the message is sent (permanent failures of
  the other devices show in the detail);
* a device failed transiently: ``TransientError`` (the longest ``Retry-After``),
  and the retry skips the devices that already accepted it (remembered in this
  process; after a restart a device may get it again, which the collapse ids
  turn into a replacement rather than a second notification on APNs and FCM);
* no device accepted it and none may later: ``PermanentError`` (``unregistered``
  when every token was dead, so the message's reason says why).
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from clarion.channels.base import (
    DeviceAddress,
    ErrorScope,
    Outgoing,
    PermanentError,
    ProviderError,
    Receipt,
    TransientError,
)
from clarion.channels.push_message import Notification, TokenRejected, notification_of
from clarion.core.model import Channel, DeadPushToken
from clarion.observability import PUSH_DEVICES, get_logger

log = get_logger("clarion.push")

#: Which service each device platform goes to unless configured otherwise.
DEFAULT_ROUTES: Mapping[str, str] = {"ios": "apns", "android": "fcm", "web": "webpush"}
#: Retried messages whose accepting devices are remembered (oldest forgotten first).
REMEMBERED_MESSAGES = 10_000


class PushService(Protocol):
    """One push service (APNs, FCM, Web Push) as the push provider uses it."""

    service: str
    idempotent: bool

    async def push(self, note: Notification, token: str) -> str | None:
        """Send to one device token; the service's id for it, if any. Raise
        ``TokenRejected`` for a dead token, else ``TransientError``/``PermanentError``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class PushTokens(Protocol):
    """Where dead tokens are removed: the store (``SqlStore.remove_push_token``)."""

    def remove_push_token(self, dead: DeadPushToken, now: datetime) -> bool:
        """Clear the device's token if it still is the one reported, and record it
        in the message's lifecycle log; True when the token was cleared."""
        ...


@dataclass(frozen=True, slots=True)
class DeviceOutcome:
    """What happened to one device of a message."""

    device: str
    platform: str
    service: str | None
    status: str  # sent, sent_before, unregistered, failed, retrying, skipped
    ref: str | None = None
    code: str | None = None
    error: str | None = None
    retry_after: float | None = None
    #: A permanent failure's scope: ``provider`` (its credentials) may fail over.
    scope: ErrorScope | None = None

    def record(self) -> dict[str, object]:
        record: dict[str, object] = {
            "device": self.device,
            "platform": self.platform,
            "status": self.status,
        }
        if self.service is not None:
            record["service"] = self.service
        if self.ref is not None:
            record["ref"] = self.ref
        if self.code is not None:
            record["code"] = self.code
        if self.error is not None:
            record["error"] = self.error
        return record


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PushProvider:
    """Sends push messages to every device of the message through its platform's service."""

    # APNs and FCM collapse repeats on the device; Web Push does not (see WebPushClient).
    idempotent = False
    channels = frozenset({Channel.PUSH})

    def __init__(
        self,
        services: Mapping[str, PushService],
        *,
        name: str = "push",
        routes: Mapping[str, str] = DEFAULT_ROUTES,
        tokens: PushTokens | None = None,
        default_ttl: int = 86_400,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = name
        self.tokens = tokens  # the store, when there is one (registry.ProviderContext)
        self._services = dict(services)
        self._routes = dict(routes)
        self._default_ttl = default_ttl
        self._clock = clock
        self._accepted: OrderedDict[str, set[str]] = OrderedDict()

    async def send(self, message: Outgoing) -> Receipt:
        """Send to each device; see the module docstring for the outcome."""
        note = notification_of(message, self._default_ttl)
        done = self._accepted.get(message.guid, set())
        outcomes = await asyncio.gather(
            *(self._one(message, note, device, device.id in done) for device in message.devices)
        )
        for (service, status), n in Counter((o.service or "", o.status) for o in outcomes).items():
            PUSH_DEVICES.labels(service, status).inc(n)
        return self._verdict(message.guid, list(outcomes))

    async def _one(
        self, message: Outgoing, note: Notification, device: DeviceAddress, done: bool
    ) -> DeviceOutcome:
        service_name = self._routes.get(device.platform)
        service = self._services.get(service_name or "")
        outcome = DeviceOutcome(device.id, device.platform, service_name, "sent_before")
        if done:  # accepted on an earlier attempt of this message
            return outcome
        if service is None or not device.push_token:
            why = "no_token" if service is not None else "no_service_for_platform"
            return replace(outcome, status="skipped", code=why)
        try:
            ref = await service.push(note, device.push_token)
        except TokenRejected as exc:
            await self._remove(message, device, service.service, exc)
            return replace(outcome, status="unregistered", code=exc.reason)
        except TransientError as exc:
            return replace(
                outcome,
                status="retrying",
                code=exc.code,
                error=str(exc),
                retry_after=exc.retry_after,
            )
        except ProviderError as exc:
            return replace(outcome, status="failed", code=exc.code, error=str(exc), scope=exc.scope)
        return replace(outcome, status="sent", ref=ref)

    async def _remove(
        self, message: Outgoing, device: DeviceAddress, service: str, exc: TokenRejected
    ) -> None:
        token = device.push_token or ""
        detail = {
            "device": device.id,
            "platform": device.platform,
            "service": service,
            "error": exc.reason,
        }
        if self.tokens is None:
            log.warning("push_token_dead_not_removed", guid=message.guid, **detail)
            return
        dead = DeadPushToken(message.profile_id, device.id, token, message.guid, detail)
        removed = await asyncio.to_thread(self.tokens.remove_push_token, dead, self._clock())
        log.info("push_token_removed", guid=message.guid, removed=removed, **detail)

    def _verdict(self, guid: str, outcomes: list[DeviceOutcome]) -> Receipt:
        sent = [o for o in outcomes if o.status in ("sent", "sent_before")]
        retrying = [o for o in outcomes if o.status == "retrying"]
        detail: dict[str, object] = {"devices": [o.record() for o in outcomes]}
        if retrying:
            self._remember(guid, {o.device for o in sent})
            waits = [o.retry_after for o in retrying if o.retry_after is not None]
            summary = ", ".join(f"{o.device}: {o.error}" for o in retrying)
            code = retrying[0].code or "push_retrying"  # e.g. http_429: retrying:http_429
            raise TransientError(code, summary, retry_after=max(waits, default=None))
        self._accepted.pop(guid, None)
        if sent:
            refs = [o.ref for o in sent if o.ref is not None]
            return Receipt(self.name, ref=refs[0] if len(refs) == 1 else None, detail=detail)
        if outcomes and all(o.status == "unregistered" for o in outcomes):
            raise PermanentError("unregistered", _summary(outcomes))
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            # The service refused the provider itself (its credentials) for every
            # device it failed: the channel's next provider may do better.
            scope = (
                ErrorScope.PROVIDER if all(o.scope is ErrorScope.PROVIDER for o in failed) else None
            )
            raise PermanentError(failed[0].code or "failed", _summary(outcomes), scope=scope)
        raise PermanentError("no_pushable_device", _summary(outcomes))

    def _remember(self, guid: str, devices: set[str]) -> None:
        self._accepted.setdefault(guid, set()).update(devices)
        self._accepted.move_to_end(guid)
        while len(self._accepted) > REMEMBERED_MESSAGES:
            self._accepted.popitem(last=False)

    async def aclose(self) -> None:
        """Close every service's connections."""
        for service in self._services.values():
            await service.aclose()


def _summary(outcomes: list[DeviceOutcome]) -> str:
    return ", ".join(f"{o.device}: {o.status} {o.code or ''}".strip() for o in outcomes)
