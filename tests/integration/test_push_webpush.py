"""The Web Push client against ``web-push-testing`` (npm), which checks the VAPID
signature and decrypts what it receives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from clarion.channels.base import PermanentError, TransientError
from clarion.channels.push_message import Notification, TokenRejected, push_id
from clarion.channels.webpush import VapidSigner, WebPushClient, parse_subscription
from tests.peers.keys import Vapid, b64url, vapid_key
from tests.peers.webpush import WebPushTesting, start_or_skip, token_of

SUBJECT = "mailto:push@example.com"


@pytest.fixture(scope="module")
def web_push_testing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebPushTesting]:
    server = start_or_skip(tmp_path_factory.mktemp("wpt") / "web-push-testing.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def vapid() -> Vapid:
    return vapid_key()


def note(guid: str = "GUID-W") -> Notification:
    return Notification(
        guid=guid,
        push_id=push_id(guid),
        title="New season",
        body="Dark is back",
        deep_link="/title/dark",
    )


def send(vapid: Vapid, token: str, message: Notification) -> str | None:
    async def go() -> str | None:
        client = WebPushClient(VapidSigner(vapid.private_raw, SUBJECT))
        try:
            return await client.push(message, token)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_delivers_an_encrypted_signed_message(
    web_push_testing: WebPushTesting, vapid: Vapid
) -> None:
    subscription = web_push_testing.subscribe(vapid.public_raw)

    send(vapid, token_of(subscription), note())

    [received] = web_push_testing.messages(str(subscription["clientHash"]))
    assert json.loads(received) == {
        "title": "New season",
        "body": "Dark is back",
        "tag": push_id("GUID-W"),
        "guid": "GUID-W",
        "deep_link": "/title/dark",
    }


def test_a_wrong_vapid_key_is_refused(web_push_testing: WebPushTesting, vapid: Vapid) -> None:
    subscription = web_push_testing.subscribe(vapid.public_raw)
    with pytest.raises(PermanentError) as caught:
        send(vapid_key(), token_of(subscription), note())
    assert caught.value.code == "http_400"
    assert "Invalid Crypto-Key" in str(caught.value)  # the VAPID key is not the subscription's
    assert web_push_testing.messages(str(subscription["clientHash"])) == []


def test_expired_subscription_is_a_token_rejection(
    web_push_testing: WebPushTesting, vapid: Vapid
) -> None:
    subscription = web_push_testing.subscribe(vapid.public_raw)
    web_push_testing.expire(str(subscription["clientHash"]))
    with pytest.raises(TokenRejected) as caught:
        send(vapid, token_of(subscription), note())
    assert caught.value.reason == "expired"


def test_unreachable_push_service_is_transient(vapid: Vapid) -> None:
    sub = {"endpoint": "http://127.0.0.1:9/notify/x", "keys": _keys()}
    with pytest.raises(TransientError) as caught:
        send(vapid, json.dumps(sub), note())
    assert caught.value.code == "connection_error"


def _keys() -> dict[str, str]:
    return {"p256dh": vapid_key().public_raw, "auth": b64url(b"0123456789abcdef")}


@pytest.mark.parametrize(
    "token",
    [
        "not json",
        '{"endpoint": "https://push.example.com/x"}',
        '{"endpoint": "ftp://x", "keys": {"p256dh": "BAAA", "auth": "AAAA"}}',
        '{"endpoint": "https://push.example.com/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}',
    ],
)
def test_a_token_that_is_no_subscription_is_rejected(token: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        parse_subscription(token)
    assert caught.value.reason == "invalid_subscription"


def test_an_endpoint_without_a_host_is_no_subscription() -> None:
    keys = {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"\x02" * 16)}
    with pytest.raises(TokenRejected) as caught:
        parse_subscription(json.dumps({"endpoint": "https:///push/x", "keys": keys}))
    assert caught.value.reason == "invalid_subscription"
