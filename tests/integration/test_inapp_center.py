"""The notification center over HTTP, on SQLite and PostgreSQL: items listed under the
same device rules as alerts (platform, app version) and assembled in the device's
locale; mark-all-read and unarchive."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from clarion.inapp.contract import NOTIFICATIONS_RESPONSE_SCHEMA
from clarion.service import Service
from tests.integration.conftest import device_auth, inapp_settings
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock, running

IMAGE = "https://img.example.com/pick.jpg"
WEB = {"platform": "web", "deviceId": "laptop"}


@pytest.fixture
def app(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[TestClient, Service]]:
    """Clarion with top_pick (a notification-center item) on web and iOS 16+ only."""
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    pick = catalog / "messages" / "top_pick.yaml"
    text = pick.read_text().replace(
        "  - channel: inapp\n", "  - channel: inapp\n    platforms: [web, ios]\n"
    )
    pick.write_text(text.replace("ttl: 14d", 'ttl: 14d\n      app_versions: {ios: ">=16.0"}'))
    with running(inapp_settings(db_url, tmp_path, catalog), clock=clock) as pair:
        yield pair


def _center(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get("/v1/inapp/notifications", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    jsonschema.validate(body, NOTIFICATIONS_RESPONSE_SCHEMA)
    return body


def _picks(
    client: TestClient, service: Service, clock: FakeClock, profile_id: str, count: int
) -> dict[str, str]:
    """``count`` top picks for an English-speaking profile; its device headers."""
    profile = {"timezone": "UTC", "locale": "en"}
    assert client.put(f"/v1/profiles/{profile_id}", json=profile).status_code == 200
    for i in range(count):
        clock.advance(timedelta(minutes=1))
        payload = {"title_id": f"t{i}", "title": f"Title {i}", "image": IMAGE}
        event = {"type": "recommendation.ready", "profile_id": profile_id, "payload": payload}
        assert client.post("/v1/events", json=event).status_code == 202
    headers = device_auth(clock, profile_id)
    # Events decided in one batch are dated a microsecond apart, so the clock must
    # move on for the last of them to fall due.
    service.run_until_idle()
    clock.advance(timedelta(milliseconds=1))
    service.run_until_idle()
    assert len(_center(client, headers, **WEB)["notifications"]) == count
    return headers


def _title(item: dict[str, Any]) -> str:
    return "".join(element["content"] for element in item["template"]["title"]["copy"])


def test_center_items_follow_the_devices_platform_version_and_locale(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    ana = _picks(client, service, clock, "ana", 1)
    # The device's locale, not the profile's (English): Spanish copy for a Spanish device.
    [spanish] = _center(client, ana, **WEB, locale="es-ES")["notifications"]
    assert _title(spanish) == "Nuevo para ti: Title 0"
    assert spanish["impressionFeedback"]["trackingInfo"]["locale"] == "es"
    [english] = _center(client, ana, **WEB)["notifications"]
    assert _title(english) == "New for you: Title 0"
    # The step's platforms and app versions, as for an alert.
    ios = {"platform": "ios", "deviceId": "phone"}
    assert _center(client, ana, **ios, appVersion="15.2")["notifications"] == []
    assert _center(client, ana, **ios)["notifications"] == []  # an unknown version
    assert len(_center(client, ana, **ios, appVersion="16.1")["notifications"]) == 1
    tv = _center(client, ana, platform="tv", deviceId="tv")
    assert (tv["notifications"], tv["unreadCount"]) == ([], 0)
    # A request that does not say which device it is gets a clear 422.
    missing = client.get("/v1/inapp/notifications", params={"deviceId": "x"}, headers=ana)
    assert missing.status_code == 422
    assert [f["field"] for f in missing.json()["fields"]] == ["platform"]
    missing = client.get("/v1/inapp/notifications", params={"platform": "web"}, headers=ana)
    assert [f["field"] for f in missing.json()["fields"]] == ["deviceId"]


def test_mark_all_read_marks_what_the_device_lists_on_every_device(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    ana = _picks(client, service, clock, "ana", 3)
    first = _center(client, ana, **WEB)
    assert first["unreadCount"] == 3
    newest = first["notifications"][0]["guid"]
    assert client.post(f"/v1/inapp/notifications/{newest}/read", headers=ana).status_code == 204
    answer = client.post("/v1/inapp/notifications/read-all", params=WEB, headers=ana)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"marked": 2}
    tablet = _center(client, ana, platform="web", deviceId="tablet")
    assert tablet["unreadCount"] == 0
    assert all(item["read"] for item in tablet["notifications"])
    again = client.post("/v1/inapp/notifications/read-all", params=WEB, headers=ana)
    assert again.json() == {"marked": 0}
    # Another profile's device marks nothing of Ana's.
    bo = _picks(client, service, clock, "bo", 1)
    assert client.post("/v1/inapp/notifications/read-all", params=WEB, headers=bo).json() == {
        "marked": 1
    }
    bad = client.post("/v1/inapp/notifications/read-all", params={"deviceId": "x"}, headers=bo)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "platform"


def test_unarchive_puts_an_item_back_for_every_device(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    ana = _picks(client, service, clock, "ana", 2)
    items = _center(client, ana, **WEB)["notifications"]
    guid = items[0]["guid"]
    assert client.post(f"/v1/inapp/notifications/{guid}/archive", headers=ana).status_code == 204
    assert [n["guid"] for n in _center(client, ana, **WEB)["notifications"]] == [items[1]["guid"]]
    archived = _center(client, ana, **WEB, archived="true")["notifications"]
    assert [n["archived"] for n in archived] == [True, False]

    bo = device_auth(clock, "bo")
    assert client.post(f"/v1/inapp/notifications/{guid}/unarchive", headers=bo).status_code == 404
    assert client.post("/v1/inapp/notifications/nope/unarchive", headers=ana).status_code == 404
    assert client.post(f"/v1/inapp/notifications/{guid}/unarchive", headers=ana).status_code == 204
    back = _center(client, ana, platform="web", deviceId="tablet")["notifications"]
    assert [(n["guid"], n["archived"]) for n in back] == [
        (items[0]["guid"], False),
        (items[1]["guid"], False),
    ]
