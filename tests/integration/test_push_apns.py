"""The APNs client against the local HTTP/2 APNs peer (cleartext h2c, and TLS)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from clarion.channels.apns import ApnsAuth, ApnsClient
from clarion.channels.base import PermanentError, TransientError
from clarion.channels.push_message import TokenRejected, push_id
from tests.integration.push_support import note, push
from tests.peers.apns import ApnsPeer, ApnsRequest
from tests.peers.keys import KeyPair, ec_key

TEAM, KEY_ID, TOPIC = "TEAM123456", "KEY1234567", "com.example.clarion"
TOKEN = "a1" * 32


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return ec_key()


@pytest.fixture
def peer(key: KeyPair) -> Iterator[ApnsPeer]:
    started = ApnsPeer(key.public_pem, TEAM, KEY_ID, TOPIC).start()
    yield started
    started.stop()


def client_for(peer: ApnsPeer, key: KeyPair, **kw: object) -> ApnsClient:
    auth = ApnsAuth(TEAM, KEY_ID, key.private_pem, **kw)  # type: ignore[arg-type]
    return ApnsClient(auth, TOPIC, base_url=peer.base_url)


def test_sends_alert_with_headers_derived_from_the_guid(peer: ApnsPeer, key: KeyPair) -> None:
    [ref] = push(client_for(peer, key), (note(), TOKEN))

    [request] = peer.received
    assert ref == push_id("GUID-1") == request.headers["apns-id"]
    assert uuid.UUID(ref).version == 5
    assert request.token == TOKEN
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-priority"] == "10"
    assert request.headers["apns-collapse-id"] == ref
    assert abs(int(request.headers["apns-expiration"]) - (time.time() + 86_400)) < 5
    assert request.payload == {
        "aps": {"alert": {"title": "Payment failed", "body": "Update your card"}},
        "guid": "GUID-1",
        "deep_link": "/account/payment",
    }


def test_normal_priority_sound_and_badge(peer: ApnsPeer, key: KeyPair) -> None:
    push(client_for(peer, key), (note(urgent=False, sound="default", badge=3, ttl=0), TOKEN))
    [request] = peer.received
    assert request.headers["apns-priority"] == "5"
    assert request.headers["apns-expiration"] == "0"
    assert request.payload is not None
    assert request.payload["aps"] == {
        "alert": {"title": "Payment failed", "body": "Update your card"},
        "sound": "default",
        "badge": 3,
    }


def test_provider_token_is_reused_then_refreshed(peer: ApnsPeer, key: KeyPair) -> None:
    now = [time.time() - 3100]  # the refresh below brings it to about now
    auth = ApnsAuth(TEAM, KEY_ID, key.private_pem, clock=lambda: now[0])
    client = ApnsClient(auth, TOPIC, base_url=peer.base_url)

    async def go() -> None:
        await client.push(note("A"), TOKEN)
        await client.push(note("B"), TOKEN)
        now[0] += 3001  # past the 50-minute refresh
        await client.push(note("C"), TOKEN)
        await client.aclose()

    asyncio.run(go())
    tokens = [r.provider_token for r in peer.received]
    assert tokens[0] == tokens[1] != tokens[2]


def test_expired_provider_token_is_replaced_and_the_send_retried(
    peer: ApnsPeer, key: KeyPair
) -> None:
    # The first token is signed by a clock an hour and more behind; APNs answers
    # ExpiredProviderToken, and the client signs a new one and sends again.
    times = iter([time.time() - 4000])
    auth = ApnsAuth(TEAM, KEY_ID, key.private_pem, clock=lambda: next(times, time.time()))
    client = ApnsClient(auth, TOPIC, base_url=peer.base_url)

    assert push(client, (note(), TOKEN)) == [push_id("GUID-1")]
    assert len(peer.received) == 1
    assert len(peer.provider_tokens) == 1  # the refused one never counted as seen


def test_unregistered_410_and_bad_device_token_are_token_rejections(
    peer: ApnsPeer, key: KeyPair
) -> None:
    peer.reply = lambda r: (410, "Unregistered") if r.token == TOKEN else (200, None)
    with pytest.raises(TokenRejected) as caught:
        push(client_for(peer, key), (note(), TOKEN))
    assert caught.value.reason == "Unregistered"
    with pytest.raises(TokenRejected) as caught:
        push(client_for(peer, key), (note(), "not-hex!"))
    assert caught.value.reason == "BadDeviceToken"


def test_429_is_transient_with_retry_after(peer: ApnsPeer, key: KeyPair) -> None:
    peer.reply = lambda r: (429, "TooManyRequests")
    peer.retry_after = "12"
    with pytest.raises(TransientError) as caught:
        push(client_for(peer, key), (note(), TOKEN))
    assert caught.value.code == "http_429"
    assert caught.value.retry_after == 12.0
    assert "TooManyRequests" in str(caught.value)


def test_503_is_transient(peer: ApnsPeer, key: KeyPair) -> None:
    peer.reply = lambda r: (503, "ServiceUnavailable")
    with pytest.raises(TransientError):
        push(client_for(peer, key), (note(), TOKEN))


def test_bad_request_is_permanent_with_apns_reason(peer: ApnsPeer, key: KeyPair) -> None:
    client = ApnsClient(
        ApnsAuth(TEAM, KEY_ID, key.private_pem), "com.other.app", base_url=peer.base_url
    )
    with pytest.raises(PermanentError) as caught:
        push(client, (note(), TOKEN))
    assert caught.value.code == "DeviceTokenNotForTopic"
    assert not isinstance(caught.value, TokenRejected)


def test_a_key_apns_does_not_know_is_refused(peer: ApnsPeer) -> None:
    client = ApnsClient(ApnsAuth(TEAM, KEY_ID, ec_key().private_pem), TOPIC, base_url=peer.base_url)
    with pytest.raises(PermanentError) as caught:
        push(client, (note(), TOKEN))
    assert caught.value.code == "InvalidProviderToken"


def test_timeout_is_transient(peer: ApnsPeer, key: KeyPair) -> None:
    def slow(request: ApnsRequest) -> tuple[int, str | None]:
        time.sleep(0.5)
        return 200, None

    peer.reply = slow
    auth = ApnsAuth(TEAM, KEY_ID, key.private_pem)
    client = ApnsClient(auth, TOPIC, base_url=peer.base_url, timeout=0.1)
    with pytest.raises(TransientError) as caught:
        push(client, (note(), TOKEN))
    assert caught.value.code == "timeout"


def test_many_notifications_share_one_http2_connection(peer: ApnsPeer, key: KeyPair) -> None:
    client = client_for(peer, key)

    async def go() -> list[str | None]:
        try:
            return await asyncio.gather(*(client.push(note(f"G{i}"), TOKEN) for i in range(50)))
        finally:
            await client.aclose()

    refs = asyncio.run(go())
    assert sorted(r for r in refs if r) == sorted(push_id(f"G{i}") for i in range(50))
    assert len(peer.received) == 50


def test_over_tls_with_alpn_h2(key: KeyPair, tmp_path: Path) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server_context.set_alpn_protocols(["h2"])
    peer = ApnsPeer(key.public_pem, TEAM, KEY_ID, TOPIC, tls=server_context).start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        auth = ApnsAuth(TEAM, KEY_ID, key.private_pem)
        verify = ssl.create_default_context(cafile=str(ca_file))
        client = ApnsClient(auth, TOPIC, base_url=peer.base_url, verify=verify)
        assert push(client, (note(), TOKEN)) == [push_id("GUID-1")]
    finally:
        peer.stop()
    assert peer.base_url.startswith("https://")


def test_a_burst_beyond_the_stream_limit_and_the_window_goes_out_whole(
    peer: ApnsPeer, key: KeyPair
) -> None:
    # 300 notifications of ~3 KB at once: more streams than the peer allows at a
    # time (h2's default, 100) and more bytes than its flow-control window (64 KB).
    client = client_for(peer, key)
    body = "x" * 3000

    async def go() -> list[str | None]:
        try:
            return await asyncio.gather(
                *(client.push(note(f"B{i}", body=body), TOKEN) for i in range(300))
            )
        finally:
            await client.aclose()

    refs = asyncio.run(go())
    assert refs == [push_id(f"B{i}") for i in range(300)]
    assert len(peer.received) == 300
    assert all(r.payload is not None for r in peer.received)


def test_a_lost_connection_is_a_transient_error_and_the_next_push_reconnects(
    peer: ApnsPeer, key: KeyPair
) -> None:
    def drop_first(request: ApnsRequest) -> tuple[int, str | None]:
        if len(peer.received) == 1:
            # An exception in the peer's protocol makes asyncio abort the connection.
            raise ConnectionAbortedError("the peer drops the connection")
        return 200, None

    peer.reply = drop_first
    client = client_for(peer, key)

    async def go() -> tuple[TransientError, str | None]:
        try:
            with pytest.raises(TransientError) as caught:
                await client.push(note("LOST"), TOKEN)
            return caught.value, await client.push(note("AGAIN"), TOKEN)
        finally:
            await client.aclose()

    error, ref = asyncio.run(go())
    assert error.code == "connection_error"
    assert error.unconfirmed  # the request had gone out: APNs may have taken it
    assert ref == push_id("AGAIN")


def test_an_unreachable_service_is_a_confirmed_transient_error(key: KeyPair) -> None:
    auth = ApnsAuth(TEAM, KEY_ID, key.private_pem)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ApnsClient(auth, TOPIC, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError) as caught:
        push(client, (note(), TOKEN))
    assert caught.value.code == "connection_error"
    assert not caught.value.unconfirmed
