"""The FCM HTTP v1 client against the local FCM peer (OAuth token endpoint and messages:send)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from clarion.channels.base import ErrorScope, PermanentError, TransientError
from clarion.channels.fcm import FcmClient, ServiceAccount, load_service_account
from clarion.channels.push_message import TokenRejected, push_id
from tests.integration.push_support import note, push
from tests.peers.fcm import FcmPeer, running
from tests.peers.keys import KeyPair, rsa_key, service_account_file

PROJECT = "clarion-test"
EMAIL = f"push@{PROJECT}.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return rsa_key()


@pytest.fixture
def peer(key: KeyPair) -> Iterator[FcmPeer]:
    with running(FcmPeer(key.public_pem, EMAIL, PROJECT)) as started:
        yield started


@pytest.fixture
def account(peer: FcmPeer, key: KeyPair, tmp_path: Path) -> ServiceAccount:
    path = service_account_file(tmp_path / "sa.json", key, f"{peer.base_url}/token", PROJECT)
    return load_service_account(path)


def test_sends_a_v1_message_with_an_oauth_token(peer: FcmPeer, account: ServiceAccount) -> None:
    [ref] = push(FcmClient(account, base_url=peer.base_url), (note("GUID-F"), "android-token-1"))

    assert ref is not None and ref.startswith(f"projects/{PROJECT}/messages/")
    [message] = peer.received
    assert message["token"] == "android-token-1"
    assert message["notification"] == {"title": "Payment failed", "body": "Update your card"}
    assert message["data"] == {"guid": "GUID-F", "deep_link": "/account/payment"}
    android = message["android"]
    assert isinstance(android, dict)
    assert android["priority"] == "HIGH"
    assert android["ttl"] == "86400s"
    assert android["collapse_key"] == push_id("GUID-F")
    assert android["notification"] == {"tag": push_id("GUID-F")}


def test_access_token_is_cached_across_sends(peer: FcmPeer, account: ServiceAccount) -> None:
    client = FcmClient(account, base_url=peer.base_url)
    push(client, *((note(f"G{i}"), "t") for i in range(5)))
    assert peer.assertions == 1
    assert len(peer.received) == 5


def test_a_refused_access_token_is_renewed_once(peer: FcmPeer, account: ServiceAccount) -> None:
    client = FcmClient(account, base_url=peer.base_url)

    async def go() -> None:
        await client.push(note("A"), "t")
        peer.revoke_all()  # FCM now answers 401 to the cached token
        await client.push(note("B"), "t")
        await client.aclose()

    asyncio.run(go())
    assert peer.assertions == 2
    assert [m["data"]["guid"] for m in peer.received] == ["A", "B"]  # type: ignore[index]


def test_unregistered_and_invalid_token_are_token_rejections(
    peer: FcmPeer, account: ServiceAccount
) -> None:
    peer.reply = lambda m: (404, "UNREGISTERED", "") if m["token"] == "gone" else (200, None, "")
    with pytest.raises(TokenRejected) as caught:
        push(FcmClient(account, base_url=peer.base_url), (note("GUID-F"), "gone"))
    assert caught.value.reason == "UNREGISTERED"

    peer.reply = lambda m: (400, "INVALID_ARGUMENT", "message.token: not a valid FCM token")
    with pytest.raises(TokenRejected) as caught:
        push(FcmClient(account, base_url=peer.base_url), (note("GUID-F"), "garbled"))
    assert caught.value.reason == "INVALID_ARGUMENT"


def test_invalid_argument_about_the_payload_is_permanent_not_a_dead_token(
    peer: FcmPeer, account: ServiceAccount
) -> None:
    peer.reply = lambda m: (400, "INVALID_ARGUMENT", "message.android.notification.color: bad")
    with pytest.raises(PermanentError) as caught:
        push(FcmClient(account, base_url=peer.base_url), (note("GUID-F"), "t"))
    assert caught.value.code == "INVALID_ARGUMENT"
    assert not isinstance(caught.value, TokenRejected)


def test_quota_exceeded_is_transient_with_retry_after(
    peer: FcmPeer, account: ServiceAccount
) -> None:
    peer.reply = lambda m: (429, "QUOTA_EXCEEDED", "")
    with pytest.raises(TransientError) as caught:
        push(FcmClient(account, base_url=peer.base_url), (note("GUID-F"), "t"))
    assert caught.value.code == "http_429"
    assert caught.value.retry_after == 3.0
    assert "QUOTA_EXCEEDED" in str(caught.value)


def test_wrong_project_is_permanent(peer: FcmPeer, key: KeyPair, tmp_path: Path) -> None:
    path = service_account_file(tmp_path / "o.json", key, f"{peer.base_url}/token", "other")
    account = load_service_account(path)
    peer.client_email = account.client_email
    with pytest.raises(PermanentError) as caught:
        push(FcmClient(account, base_url=peer.base_url), (note("GUID-F"), "t"))
    assert caught.value.code == "SENDER_ID_MISMATCH"
    assert not isinstance(caught.value, TokenRejected)


def test_a_key_google_does_not_know_is_refused_at_the_token_endpoint(
    peer: FcmPeer, tmp_path: Path
) -> None:
    path = service_account_file(tmp_path / "x.json", rsa_key(), f"{peer.base_url}/token", PROJECT)
    client = FcmClient(load_service_account(path), base_url=peer.base_url)
    with pytest.raises(PermanentError) as caught:
        push(client, (note("GUID-F"), "t"))
    assert caught.value.code == "oauth_invalid_grant"
    assert caught.value.scope is ErrorScope.PROVIDER  # the key: another provider may do


def test_service_account_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sa.json"
    path.write_text('{"project_id": "p"}')
    with pytest.raises(ValueError, match=r"sa\.json: missing client_email"):
        load_service_account(path)
    assert "BEGIN" not in repr(
        ServiceAccount("p", "e", "-----BEGIN PRIVATE KEY-----", "k", "https://t")
    )
