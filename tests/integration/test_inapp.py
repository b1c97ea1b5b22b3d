"""In-app alerts end to end over HTTP, on SQLite and PostgreSQL: stored when
dispatched, validated and assembled at fetch time in the device's locale, and
driven by signed feedback from the profile's own devices."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from clarion.inapp import issue_device_token
from clarion.service import Service
from tests.integration.conftest import (
    PAYMENT,
    device_auth,
    fetch_alerts,
    fetch_center,
    inapp_settings,
    post_feedback,
    seed,
)
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock, running, when_idle

WEB_DEVICE = {"platform": "web", "deviceId": "laptop"}


def test_an_alert_is_assembled_in_the_devices_locale(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    ana = device_auth(clock, "ana")
    [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    assert alert["templateId"] == "standard"
    title = alert["template"]["title"]["copy"]
    assert title == [{"elementType": "TEXT", "content": "Your payment didn't go through"}]
    body = alert["template"]["body"]["copy"]
    assert {"elementType": "BOLD", "content": "Dark"} in body
    assert [c["isSelected"] for c in alert["template"]["ctas"]] == [True, False]
    assert alert["attributes"]["blockedPages"] == ["/account/payment"]
    # Portuguese for a device that asks for it; nothing on the page the alert is about.
    [pt] = fetch_alerts(client, ana, locale="pt-BR")
    assert pt["template"]["ctas"][1]["copy"][0]["content"] == "Agora não"
    assert fetch_alerts(client, ana, page="/account/payment/card") == []
    # The in-app message is stored, not sent anywhere: sent, then delivered on impression.
    messages = client.get("/v1/profiles/ana/messages", params={"channel": "inapp"}).json()
    assert messages["messages"][0]["status"] == "sent"


def test_impressions_and_clicks_are_recorded_and_dismiss_hides_it_everywhere(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    ana = device_auth(clock, "ana")
    [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    guid = alert["attributes"]["impressionFeedback"]["trackingInfo"]["messageGuid"]
    assert post_feedback(client, ana, alert["attributes"]["impressionFeedback"]).json()[
        "effects"
    ] == ["impression"]
    not_now = alert["template"]["ctas"][1]
    assert not_now["actionType"] == "DISMISS"
    effects = post_feedback(client, ana, not_now["ctaFeedback"]).json()["effects"]
    assert effects[:2] == ["action", "suppressed"]
    assert fetch_alerts(client, ana, deviceId="tablet") == []  # every device of the profile
    timeline = client.get(f"/v1/messages/{guid}").json()["timeline"]
    assert [(e["status"], e["reason"]) for e in timeline][-2:] == [
        ("delivered", "impression"),
        ("delivered", "cta:DISMISS_ALERT"),
    ]
    assert timeline[-1]["detail"]["deviceId"] == "laptop"


def test_forged_altered_or_expired_feedback_changes_nothing(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    ana = device_auth(clock, "ana")
    [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    feedback = alert["template"]["ctas"][1]["ctaFeedback"]
    guid = feedback["trackingInfo"]["messageGuid"]
    before = client.get(f"/v1/messages/{guid}").json()["timeline"]
    altered = {**feedback, "action": "UPDATE_PAYMENT"}
    assert post_feedback(client, ana, altered).status_code == 403
    forged = {**feedback, "signature": "A" * 43}
    assert post_feedback(client, ana, forged).status_code == 403
    assert post_feedback(client, ana, {"ttl": 1}).status_code == 422
    clock.advance(timedelta(days=2))  # past the feedback ttl (one day)
    fresh = device_auth(clock, "ana")
    assert post_feedback(client, fresh, feedback).status_code == 410
    assert client.get(f"/v1/messages/{guid}").json()["timeline"] == before


def test_a_device_of_one_profile_cannot_touch_another(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    ana, bo = device_auth(clock, "ana"), device_auth(clock, "bo")
    # Each event decided on its own: a second event of a batch is dated a tick after
    # a clock that stands still, and would not be due until it moved.
    seed(client, "ana")
    [ana_alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    seed(client, "bo")
    [bo_alert] = when_idle(service, lambda: fetch_alerts(client, bo))
    assert (
        ana_alert["attributes"]["impressionFeedback"]
        != bo_alert["attributes"]["impressionFeedback"]
    )
    # Bo's device posting Ana's (validly signed) feedback is refused and changes nothing.
    dismiss = ana_alert["template"]["ctas"][1]["ctaFeedback"]
    assert post_feedback(client, bo, dismiss).status_code == 404
    assert len(fetch_alerts(client, ana)) == 1
    assert (
        client.get("/v1/inapp/alerts", params={"platform": "web", "deviceId": "x"}).status_code
        == 401
    )
    forged = issue_device_token(b"x" * 32, "ana", timedelta(hours=1), now=clock())
    response = client.get(
        "/v1/inapp/alerts",
        params={"platform": "web", "deviceId": "x"},
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert response.status_code == 401 and "bad_signature" in response.json()["message"]


def test_follow_up_after_impressions_uses_a_banner_on_the_web_only(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    assert client.put("/v1/profiles/cy", json={"timezone": "UTC"}).status_code == 200
    client.post(
        "/v1/events",
        json={
            "type": "account.phone_missing",
            "profile_id": "cy",
            "payload": {"reason": "recovery"},
        },
    )
    cy = device_auth(clock, "cy")
    for _ in range(3):
        [alert] = when_idle(service, lambda: fetch_alerts(client, cy))
        assert alert["templateId"] == "standard"
        post_feedback(client, cy, alert["attributes"]["impressionFeedback"])
    [follow_up] = fetch_alerts(client, cy)
    assert follow_up["templateId"] == "banner"
    assert fetch_alerts(client, cy, platform="ios", appVersion="16.1") == []
    assert fetch_alerts(client, cy, page="/account/phone") == []


def test_sdk_is_served(app: tuple[TestClient, Service]) -> None:
    client, _ = app
    response = client.get("/sdk/clarion-inapp.js")
    assert response.status_code == 200 and "ClarionInApp" in response.text


def test_the_goal_event_resolves_the_alert_everywhere(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    assert client.put("/v1/profiles/cy", json={"timezone": "UTC"}).status_code == 200
    client.post(
        "/v1/events",
        json={"type": "account.phone_missing", "profile_id": "cy", "payload": {"reason": "r"}},
    )
    cy = device_auth(clock, "cy")
    [alert] = when_idle(service, lambda: fetch_alerts(client, cy))
    guid = alert["attributes"]["impressionFeedback"]["trackingInfo"]["messageGuid"]
    client.post("/v1/events", json={"type": "phone.added", "profile_id": "cy"})
    when_idle(service, lambda: client.get(f"/v1/messages/{guid}").json()["status"] == "resolved")
    assert client.get(f"/v1/messages/{guid}").json()["reason"] == "resolved:phone.added"
    assert (
        fetch_alerts(client, cy) == []
        and fetch_alerts(client, cy, deviceId="phone", platform="ios") == []
    )


def test_notification_center_is_per_profile_newest_first_and_paginated(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    assert client.put("/v1/profiles/ana", json={"timezone": "UTC"}).status_code == 200
    for i, title in enumerate(["Dark", "Ozark", "Lupin"]):
        clock.advance(timedelta(minutes=1))
        payload = {
            "title_id": title.lower(),
            "title": title,
            "image": f"https://img.example.com/{i}.jpg",
        }
        client.post(
            "/v1/events",
            json={"type": "recommendation.ready", "profile_id": "ana", "payload": payload},
        )
        ana = device_auth(clock, "ana")

        def listed(n: int = i + 1, h: dict[str, str] = ana) -> bool:
            return len(fetch_center(client, h)["notifications"]) == n

        when_idle(service, listed)
    assert fetch_alerts(client, ana) == []  # notifications are not alerts
    first = fetch_center(client, ana, limit="2", locale="en")
    assert first["unreadCount"] == 3
    titles = [n["template"]["title"]["copy"][1]["content"] for n in first["notifications"]]
    assert titles == ["Lupin", "Ozark"]
    assert first["notifications"][0]["template"]["image"] == "https://img.example.com/2.jpg"
    rest = fetch_center(client, ana, limit="2", cursor=first["nextCursor"])
    assert [n["template"]["title"]["copy"][1]["content"] for n in rest["notifications"]] == ["Dark"]
    assert rest["nextCursor"] is None
    newest = first["notifications"][0]["guid"]
    assert client.post(f"/v1/inapp/notifications/{newest}/read", headers=ana).status_code == 204
    # Read state belongs to the profile: another device sees it too.
    center = fetch_center(client, ana, deviceId="tablet")
    assert center["unreadCount"] == 2 and center["notifications"][0]["read"] is True
    bo = device_auth(clock, "bo")
    assert client.post(f"/v1/inapp/notifications/{newest}/archive", headers=bo).status_code == 404
    assert client.post(f"/v1/inapp/notifications/{newest}/archive", headers=ana).status_code == 204
    assert len(fetch_center(client, ana)["notifications"]) == 2
    assert len(fetch_center(client, ana, archived="true")["notifications"]) == 3
    assert fetch_center(client, bo)["notifications"] == []
    bad = client.get(
        "/v1/inapp/notifications", params={**WEB_DEVICE, "cursor": "nope"}, headers=ana
    )
    assert bad.status_code == 400


def test_in_app_caps_count_impressions(db_url: str, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    policy = catalog / "clarion.yaml"
    policy.write_text(policy.read_text().replace("inapp: [{limit: 2,", "inapp: [{limit: 1,"))
    add_phone = catalog / "messages" / "add_phone.yaml"
    add_phone.write_text(add_phone.read_text().replace("category: account", "category: onboarding"))
    clock = FakeClock()
    with running(inapp_settings(db_url, tmp_path, catalog), clock=clock) as (client, service):
        client.put("/v1/profiles/cy", json={"timezone": "UTC"})
        for count, reason in enumerate(("recovery", "security"), 1):  # dedup is per reason
            clock.advance(timedelta(minutes=1))
            event = {
                "type": "account.phone_missing",
                "profile_id": "cy",
                "payload": {"reason": reason},
            }
            client.post("/v1/events", json=event)

            def decided(n: int = count) -> bool:
                return len(client.get("/v1/profiles/cy/messages").json()["messages"]) == n

            when_idle(service, decided)
        cy = device_auth(clock, "cy")
        # The cap leaves room for one alert a day.
        [first] = when_idle(service, lambda: fetch_alerts(client, cy))
        post_feedback(client, cy, first["attributes"]["impressionFeedback"])
        [again] = fetch_alerts(client, cy)
        assert (
            again["attributes"]["impressionFeedback"]["trackingInfo"]["messageGuid"]
            == (first["attributes"]["impressionFeedback"]["trackingInfo"]["messageGuid"])
        )
        clock.advance(timedelta(days=1, minutes=1))
        later = device_auth(clock, "cy")
        assert len(fetch_alerts(client, later)) == 1  # a new day: room for one alert again


def test_a_dismiss_for_all_channels_suppresses_the_message_everywhere(
    db_url: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    payment = catalog / "messages" / "payment_failed.yaml"
    payment.write_text(payment.read_text().replace("scope: message}", "scope: all_channels}"))
    clock = FakeClock()
    with running(inapp_settings(db_url, tmp_path, catalog), clock=clock) as (client, service):
        seed(client, "ana")
        ana = device_auth(clock, "ana")
        [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
        post_feedback(client, ana, alert["template"]["ctas"][1]["ctaFeedback"])  # Not now
        again = {"id": "again", "type": "payment.failed", "profile_id": "ana", "payload": PAYMENT}
        client.post("/v1/events", json=again)

        def decided() -> list[dict[str, Any]]:
            found = client.get("/v1/profiles/ana/messages").json()["messages"]
            return [m for m in found if m["event_id"] == "again"]

        service.run_until_idle()
        messages = decided()
        assert len(messages) == 4
        assert {m["reason"] for m in messages} == {"suppressed:dismiss"}
        clock.advance(timedelta(days=1, minutes=1))  # the suppression lasts a day
        client.post("/v1/events", json={**again, "id": "later"})
        when_idle(
            service,
            lambda: any(
                m["event_id"] == "later" and m["channel"] == "email" and m["status"] == "delivered"
                for m in client.get("/v1/profiles/ana/messages").json()["messages"]
            ),
        )
