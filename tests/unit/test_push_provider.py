"""The push provider's routing and verdicts, with services driven by test functions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from clarion.channels.base import (
    DeviceAddress,
    ErrorScope,
    Outgoing,
    PermanentError,
    TransientError,
)
from clarion.channels.push import PushProvider
from clarion.channels.push_message import (
    Notification,
    TokenRejected,
    notification_of,
    push_id,
    service_error,
)
from clarion.core.contracts import PushOptions
from clarion.core.model import Channel, DeadPushToken
from clarion.observability import REGISTRY

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class FakeService:
    """A push service whose answer per token is a test function."""

    service: str
    answer: Callable[[str], str | None] = lambda token: f"ref-{token}"
    idempotent: bool = True
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def push(self, note: Notification, token: str) -> str | None:
        self.calls.append((note.guid, token))
        return self.answer(token)

    async def aclose(self) -> None:
        return None


@dataclass
class FakeTokens:
    removed: list[DeadPushToken] = field(default_factory=list)

    def remove_push_token(self, dead: DeadPushToken, now: datetime) -> bool:
        self.removed.append(dead)
        return True


DEVICES = (
    DeviceAddress("iphone", "ios", "ios-tok"),
    DeviceAddress("pixel", "android", "and-tok"),
    DeviceAddress("laptop", "web", "web-tok"),
)


def message(*devices: DeviceAddress, **options: Any) -> Outgoing:
    return Outgoing(
        guid="G1",
        channel=Channel.PUSH,
        message="payment_failed",
        message_id=1001,
        category="account",
        profile_id="ana",
        locale="en",
        fields={"title": "Payment **failed**", "body": "Update [here](https://x.example/p)"},
        devices=devices or DEVICES,
        options=PushOptions(**options),
    )


def provider(**services: FakeService) -> tuple[PushProvider, FakeTokens]:
    tokens = FakeTokens()
    made = {
        "apns": FakeService("apns"),
        "fcm": FakeService("fcm"),
        "webpush": FakeService("webpush"),
        **services,
    }
    return PushProvider(made, tokens=tokens, clock=lambda: NOW), tokens


def send(push: PushProvider, outgoing: Outgoing) -> object:
    return asyncio.run(push.send(outgoing))


def test_each_device_goes_to_the_service_of_its_platform() -> None:
    apns, fcm, web = FakeService("apns"), FakeService("fcm"), FakeService("webpush")
    push, _ = provider(apns=apns, fcm=fcm, webpush=web)
    tv = DeviceAddress("tv", "tv", "tv-tok")
    tokenless = DeviceAddress("ipad", "ios", None)

    receipt = asyncio.run(push.send(message(*DEVICES, tv, tokenless)))

    assert apns.calls == [("G1", "ios-tok")]
    assert fcm.calls == [("G1", "and-tok")]
    assert web.calls == [("G1", "web-tok")]
    assert receipt.provider == "push"
    assert receipt.ref is None  # three refs: they are in the detail
    assert receipt.detail["devices"] == [
        {"device": "iphone", "platform": "ios", "service": "apns", "status": "sent",
         "ref": "ref-ios-tok"},
        {"device": "pixel", "platform": "android", "service": "fcm", "status": "sent",
         "ref": "ref-and-tok"},
        {"device": "laptop", "platform": "web", "service": "webpush", "status": "sent",
         "ref": "ref-web-tok"},
        {"device": "tv", "platform": "tv", "status": "skipped",
         "code": "no_service_for_platform"},
        {"device": "ipad", "platform": "ios", "service": "apns", "status": "skipped",
         "code": "no_token"},
    ]  # fmt: skip


def test_a_dead_token_is_removed_and_the_others_still_get_it() -> None:
    def gone(token: str) -> str | None:
        raise TokenRejected("Unregistered")

    push, tokens = provider(apns=FakeService("apns", gone))
    receipt = asyncio.run(push.send(message()))

    assert [d["status"] for d in receipt.detail["devices"]] == ["unregistered", "sent", "sent"]  # type: ignore[attr-defined]
    detail = {"device": "iphone", "platform": "ios", "service": "apns", "error": "Unregistered"}
    assert tokens.removed == [DeadPushToken("ana", "iphone", "ios-tok", "G1", detail)]


def test_outcomes_are_counted_per_service() -> None:
    def count(service: str, outcome: str) -> float:
        labels = {"service": service, "outcome": outcome}
        return REGISTRY.get_sample_value("clarion_push_devices_total", labels) or 0.0

    def gone(token: str) -> str | None:
        raise TokenRejected("Unregistered")

    before = count("apns", "unregistered"), count("fcm", "sent")
    push, _ = provider(apns=FakeService("apns", gone))
    asyncio.run(push.send(message()))
    assert (count("apns", "unregistered"), count("fcm", "sent")) == (before[0] + 1, before[1] + 1)


def test_every_token_dead_is_a_permanent_unregistered_failure() -> None:
    def gone(token: str) -> str | None:
        raise TokenRejected("Unregistered")

    push, tokens = provider(apns=FakeService("apns", gone))
    with pytest.raises(PermanentError) as caught:
        asyncio.run(push.send(message(DEVICES[0])))
    assert caught.value.code == "unregistered"
    assert len(tokens.removed) == 1


def test_a_transient_failure_retries_only_the_devices_still_owed() -> None:
    busy = [True]

    def flaky(token: str) -> str | None:
        if busy[0]:
            raise TransientError("http_429", retry_after=30.0)
        return "ok"

    fcm, apns = FakeService("fcm", flaky), FakeService("apns")
    push, _ = provider(fcm=fcm, apns=apns)
    with pytest.raises(TransientError) as caught:
        asyncio.run(push.send(message()))
    assert caught.value.retry_after == 30.0
    assert caught.value.code == "http_429"

    busy[0] = False
    receipt = asyncio.run(push.send(message()))

    assert apns.calls == [("G1", "ios-tok")]  # not sent twice
    assert len(fcm.calls) == 2
    statuses = [d["status"] for d in receipt.detail["devices"]]  # type: ignore[attr-defined]
    assert statuses == ["sent_before", "sent", "sent_before"]


def test_permanent_failures_with_no_success_fail_with_the_first_code() -> None:
    def bad(token: str) -> str | None:
        raise PermanentError("BadTopic", "http 400")

    push, _ = provider(apns=FakeService("apns", bad))
    with pytest.raises(PermanentError) as caught:
        asyncio.run(push.send(message(DEVICES[0])))
    assert caught.value.code == "BadTopic"


def test_a_service_refusing_the_provider_itself_fails_over() -> None:
    def refused(token: str) -> str | None:
        raise PermanentError("InvalidProviderToken", "http 403", scope=ErrorScope.PROVIDER)

    def bad(token: str) -> str | None:
        raise PermanentError("BadTopic", "http 400")

    push, _ = provider(apns=FakeService("apns", refused), fcm=FakeService("fcm", refused))
    with pytest.raises(PermanentError) as caught:
        asyncio.run(push.send(message(DEVICES[0], DEVICES[1])))
    assert caught.value.scope is ErrorScope.PROVIDER
    # One device refused for its own reasons: the message is at fault, no failover.
    push, _ = provider(apns=FakeService("apns", refused), fcm=FakeService("fcm", bad))
    with pytest.raises(PermanentError) as caught:
        asyncio.run(push.send(message(DEVICES[0], DEVICES[1])))
    assert caught.value.scope is ErrorScope.ADDRESS


def test_service_errors_keep_the_http_status_scope() -> None:
    assert service_error(403, "InvalidProviderToken", None, 0.0).scope is ErrorScope.PROVIDER
    assert service_error(400, "BadTopic", None, 0.0).scope is ErrorScope.ADDRESS
    assert service_error(401, None, None, 0.0).scope is ErrorScope.PROVIDER


def test_no_device_with_a_service_is_permanent() -> None:
    push, _ = provider()
    with pytest.raises(PermanentError) as caught:
        asyncio.run(push.send(message(DeviceAddress("tv", "tv", "x"))))
    assert caught.value.code == "no_pushable_device"


def test_notification_from_fields_and_options() -> None:
    note = notification_of(
        message(deep_link="/p", sound="chime", badge=2, priority="normal", ttl=60), 86_400
    )
    assert note == Notification(
        guid="G1",
        push_id=push_id("G1"),
        title="Payment failed",
        body="Update here (https://x.example/p)",
        deep_link="/p",
        sound="chime",
        badge=2,
        urgent=False,
        ttl=60,
    )
    assert notification_of(message(), 300).ttl == 300
    assert push_id("G1") == push_id("G1") != push_id("G2")


@pytest.mark.parametrize(
    "options", [{"badge": "2"}, {"priority": "urgent"}, {"ttl": True}, {"deep_link": 5}]
)
def test_unusable_options_never_reach_a_provider(options: dict[str, object]) -> None:
    # The catalog refuses them at load with file and key (tests/unit/test_channel_contracts.py);
    # built in code, the typed options refuse them too.
    with pytest.raises(ValueError, match=f"option {next(iter(options))!r}"):
        message(**options)
