"""Push through the whole pipeline, on SQLite and PostgreSQL: one event reaches a
profile's iPhone (APNs peer), Android phone (FCM peer) and browser
(web-push-testing); tokens the services report dead are removed from the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from clarion.channels.provider_config import PushConfig, SinkConfig
from clarion.channels.push_config import ApnsConfig, FcmConfig, WebPushConfig
from clarion.core.model import Channel, DeadPushToken, Device, Profile
from clarion.service import Service
from clarion.store import SqlStore
from tests.integration.pipeline_support import FakeClock, running, settings_for, when_idle
from tests.integration.store_support import T0, decision, event, process
from tests.peers.apns import ApnsPeer, ApnsRequest
from tests.peers.fcm import FcmPeer
from tests.peers.fcm import running as fcm_running
from tests.peers.keys import KeyPair, Vapid, ec_key, rsa_key, service_account_file, vapid_key
from tests.peers.webpush import WebPushTesting, start_or_skip, token_of

TEAM, KEY_ID, TOPIC, PROJECT = "TEAM123456", "KEY1234567", "com.example.clarion", "clarion-test"
IOS_TOKEN = "ab" * 32
PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Stranger Things"}


# -- the store: clearing a dead token ------------------------------------------------
def test_remove_push_token_clears_only_the_token_reported(store: SqlStore) -> None:
    devices = (
        Device("iphone", "ios", push_token="T1"),
        Device("pixel", "android", push_token="T2"),
    )
    store.upsert_profile(Profile(id="p1", devices=devices), T0)
    source = event("e1")
    push = decision(source, devices=("iphone", "pixel"))
    process(store, source, push)
    detail = {"device": "iphone", "service": "apns", "error": "Unregistered"}
    dead = DeadPushToken("p1", "iphone", "T1", push.guid, detail)

    assert store.remove_push_token(dead, T0 + timedelta(1))

    profile = store.get_profile("p1")
    assert profile is not None
    assert {d.id: d.push_token for d in profile.devices} == {"iphone": None, "pixel": "T2"}
    last = store.timeline(push.guid)[-1]
    assert last.reason == "push_token_removed"
    assert last.status.value == "scheduled"  # the message's status at the time
    assert dict(last.detail) == {**detail, "token_cleared": True}

    # The app registered a new token before the stale report arrived: it stays.
    store.upsert_device("p1", Device("iphone", "ios", push_token="T3"), T0)
    assert not store.remove_push_token(dead, T0 + timedelta(2))
    profile = store.get_profile("p1")
    assert profile is not None and profile.devices[0].push_token == "T3"
    assert store.timeline(push.guid)[-1].detail["token_cleared"] is False


# -- the pipeline ------------------------------------------------------------------
# APNs and FCM run on in-process peers; Web Push needs the npm peer (web-push-testing).
# Each pipeline test runs with an iPhone and an Android phone, then again with a browser
# as well: a missing npm peer skips only the browser runs (fails them under CI).
@dataclass
class Peers:
    apns: ApnsPeer
    fcm: FcmPeer
    apns_key: KeyPair
    fcm_key: KeyPair
    vapid: Vapid


@pytest.fixture(scope="module")
def peers() -> Iterator[Peers]:
    apns_key, fcm_key = ec_key(), rsa_key()
    email = f"push@{PROJECT}.iam.gserviceaccount.com"
    apns = ApnsPeer(apns_key.public_pem, TEAM, KEY_ID, TOPIC).start()
    try:
        with fcm_running(FcmPeer(fcm_key.public_pem, email, PROJECT)) as fcm:
            yield Peers(apns, fcm, apns_key, fcm_key, vapid_key())
    finally:
        apns.stop()


@pytest.fixture(scope="module")
def web_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebPushTesting]:
    web = start_or_skip(tmp_path_factory.mktemp("push-peers") / "web-push-testing.log")
    try:
        yield web
    finally:
        web.stop()


@dataclass
class Browser:
    """The profile's browser subscription at the Web Push peer."""

    peer: WebPushTesting
    subscription: dict[str, Any]

    @property
    def client_hash(self) -> str:
        return str(self.subscription["clientHash"])


@pytest.fixture(params=["phones", "phones+browser"])
def browser(request: pytest.FixtureRequest, peers: Peers) -> Browser | None:
    """``None``: the profile has an iPhone and an Android phone; otherwise a laptop too."""
    if request.param == "phones":
        return None
    web: WebPushTesting = request.getfixturevalue("web_peer")
    return Browser(web, web.subscribe(peers.vapid.public_raw))


def push_config(peers: Peers, tmp_path: Path) -> PushConfig:
    token_uri = f"{peers.fcm.base_url}/token"
    account = service_account_file(tmp_path / "sa.json", peers.fcm_key, token_uri, PROJECT)
    return PushConfig(
        apns=ApnsConfig(
            team_id=TEAM,
            key_id=KEY_ID,
            private_key=SecretStr(peers.apns_key.private_pem),
            topic=TOPIC,
            base_url=peers.apns.base_url,
        ),
        fcm=FcmConfig(service_account_path=account, base_url=peers.fcm.base_url),
        webpush=WebPushConfig(
            vapid_private_key=SecretStr(peers.vapid.private_raw),
            vapid_subject="mailto:push@example.com",
        ),
    )


def _profile(client: TestClient, pid: str, browser: Browser | None) -> None:
    body = {"locale": "en", "timezone": "UTC", "email": f"{pid}@example.com"}
    assert client.put(f"/v1/profiles/{pid}", json=body).status_code == 200
    devices = [("iphone", "ios", IOS_TOKEN), ("pixel", "android", f"fcm-{pid}")]
    if browser is not None:
        devices.append(("laptop", "web", token_of(browser.subscription)))
    for device_id, platform, token in devices:
        device = {"platform": platform, "app_version": "16.2.0", "push_token": token}
        answer = client.put(f"/v1/profiles/{pid}/devices/{device_id}", json=device)
        assert answer.status_code == 200


def _push_message(client: TestClient, service: Service, pid: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        found = client.get(f"/v1/profiles/{pid}/messages", params={"channel": "push"}).json()
        done = [m for m in found["messages"] if m["status"] not in ("scheduled", "sending")]
        return done[0] if done else None

    message = when_idle(service, settled)
    detail: dict[str, Any] = client.get(f"/v1/messages/{message['guid']}").json()
    return detail


def _run(db_url: str, tmp_path: Path, peers: Peers, clock: Any = None) -> Any:
    settings = settings_for(
        db_url,
        tmp_path,
        providers={
            "sink": SinkConfig(path=tmp_path / "sink.jsonl"),
            "push": push_config(peers, tmp_path),
        },
        routes={Channel.PUSH: "push"},
        run_workers=False,
    )
    return running(settings, clock=clock)


def test_one_event_reaches_every_device(
    db_url: str, tmp_path: Path, peers: Peers, browser: Browser | None
) -> None:
    with _run(db_url, tmp_path, peers) as (client, service):
        pid = f"ana-{tmp_path.name}"
        _profile(client, pid, browser)
        event = {
            "id": f"evt-{pid}",
            "type": "payment.failed",
            "profile_id": pid,
            "payload": PAYMENT,
        }
        assert client.post("/v1/events", json=event).status_code == 202
        message = _push_message(client, service, pid)

    assert message["status"] == "sent"
    sent = message["timeline"][-1]["detail"]
    assert [(d["device"], d["service"], d["status"]) for d in sent["devices"]] == [
        ("iphone", "apns", "sent"),
        *([("laptop", "webpush", "sent")] if browser else []),
        ("pixel", "fcm", "sent"),
    ]
    apns = [
        r for r in peers.apns.received if r.payload and r.payload.get("guid") == message["guid"]
    ]
    assert len(apns) == 1 and apns[0].token == IOS_TOKEN
    assert apns[0].payload is not None and apns[0].payload["deep_link"] == "/account/payment"
    alert = apns[0].payload["aps"]["alert"]  # type: ignore[index]
    assert "Stranger Things" in alert["body"]  # the catalog's copy, rendered in English
    fcm = [m for m in peers.fcm.received if m["token"] == f"fcm-{pid}"]
    assert len(fcm) == 1 and fcm[0]["notification"] == alert
    if browser is not None:
        [web] = browser.peer.messages(browser.client_hash)
        assert json.loads(web)["guid"] == message["guid"]
        assert json.loads(web)["title"] == alert["title"]


def test_dead_tokens_are_removed_and_recorded(
    db_url: str, tmp_path: Path, peers: Peers, browser: Browser | None
) -> None:
    if browser is not None:
        browser.peer.expire(browser.client_hash)
    peers.apns.reply = lambda r: (410, "Unregistered")
    try:
        with _run(db_url, tmp_path, peers) as (client, service):
            pid = f"bo-{tmp_path.name}"
            _profile(client, pid, browser)
            event = {"id": f"evt-{pid}", "type": "payment.failed", "profile_id": pid,
                     "payload": PAYMENT}  # fmt: skip
            assert client.post("/v1/events", json=event).status_code == 202
            message = _push_message(client, service, pid)
            profile = service.store.get_profile(pid)
    finally:
        peers.apns.reply = lambda r: (200, None)

    assert message["status"] == "sent"  # the Android phone still got it
    assert profile is not None
    assert {d.id: d.push_token for d in profile.devices} == {
        "iphone": None,
        **({"laptop": None} if browser else {}),
        "pixel": f"fcm-{pid}",
    }
    removed = [e for e in message["timeline"] if e["reason"] == "push_token_removed"]
    assert sorted((e["detail"]["device"], e["detail"]["error"]) for e in removed) == [
        ("iphone", "Unregistered"),
        *([("laptop", "expired")] if browser else []),
    ]
    assert all(e["detail"]["token_cleared"] for e in removed)


def test_a_throttled_device_is_retried_alone_with_the_same_apns_id(
    db_url: str, tmp_path: Path, peers: Peers, browser: Browser | None
) -> None:
    throttled: list[str] = []

    def once_429(request: ApnsRequest) -> tuple[int, str | None]:
        if not throttled:
            throttled.append(request.headers["apns-id"])
            return 429, "TooManyRequests"
        return 200, None

    peers.apns.reply = once_429
    try:
        clock = FakeClock()
        with _run(db_url, tmp_path, peers, clock=clock) as (client, service):
            pid = f"cy-{tmp_path.name}"
            _profile(client, pid, browser)
            event = {"id": f"evt-{pid}", "type": "payment.failed", "profile_id": pid,
                     "payload": PAYMENT}  # fmt: skip
            assert client.post("/v1/events", json=event).status_code == 202
            service.run_until_idle()
            clock.advance(timedelta(minutes=1))  # past the 429's backoff
            message = _push_message(client, service, pid)
    finally:
        peers.apns.reply = lambda r: (200, None)

    assert message["status"] == "sent"
    # Push is not idempotent end to end (Web Push), so each call is logged as an attempt first.
    reasons = [e["reason"] for e in message["timeline"] if e["reason"] != "attempt"]
    assert reasons[:3] == [None, None, "retrying:http_429"]
    apns_ids = [r.headers["apns-id"] for r in peers.apns.received if r.token == IOS_TOKEN]
    assert throttled and apns_ids[-1] == throttled[0]  # the retry carried the same apns-id
    assert len([m for m in peers.fcm.received if m["token"] == f"fcm-{pid}"]) == 1
    if browser is not None:
        assert len(browser.peer.messages(browser.client_hash)) == 1
    devices = message["timeline"][-1]["detail"]["devices"]
    assert [d["status"] for d in devices] == ["sent", *(["sent_before"] * (2 if browser else 1))]
