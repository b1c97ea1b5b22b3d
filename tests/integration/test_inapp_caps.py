"""In-app messages and the shared fatigue budget, over HTTP on SQLite and PostgreSQL:
an in-app message counts against the global caps from its first impression (the
impression feedback of any device), not from its creation."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from clarion.service import Service
from tests.integration.conftest import device_auth, inapp_settings
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock, running, when_idle

IMAGE = "https://img.example.com/pick.jpg"
CENTER = {"platform": "web", "deviceId": "laptop", "locale": "en"}


def _catalog(tmp_path: Path) -> Path:
    """The example catalog without continue_watching's holdout, so its email is never
    held back by chance: only the caps can stop it."""
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    nudge = catalog / "messages" / "continue_watching.yaml"
    nudge.write_text(nudge.read_text().replace("holdout: 5%", ""))
    return catalog


def _messages(client: TestClient, profile_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/v1/profiles/{profile_id}/messages").json()[
        "messages"
    ]
    return found


def _six_picks(
    client: TestClient, service: Service, clock: FakeClock, profile_id: str
) -> dict[str, str]:
    """Six top picks (in-app notification-center items, global caps 6/1d) for a
    profile; returns its device headers once all six are in its center."""
    profile = {"timezone": "UTC", "email": f"{profile_id}@example.com"}
    assert client.put(f"/v1/profiles/{profile_id}", json=profile).status_code == 200
    for i in range(6):
        payload = {"title_id": f"t{i}", "title": f"Title {i}", "image": IMAGE}
        event = {"type": "recommendation.ready", "profile_id": profile_id, "payload": payload}
        assert client.post("/v1/events", json=event).status_code == 202
    headers = device_auth(clock, profile_id)

    # Each one decided, then stored for the devices when due: events decided in one
    # batch are dated a microsecond apart, so the clock must move on for the last.
    service.run_until_idle()
    clock.advance(timedelta(milliseconds=1))
    service.run_until_idle()
    answer = client.get("/v1/inapp/notifications", params=CENTER, headers=headers)
    assert len(answer.json()["notifications"]) == 6
    return headers


def _nudge(client: TestClient, service: Service, profile_id: str) -> dict[str, Any]:
    """continue_watching for the profile (email: it has no push device), once decided."""
    payload = {"show_id": "dark", "show_title": "Dark", "episode_title": "E1", "progress": 0.5}
    event = {"type": "play.paused", "profile_id": profile_id, "payload": payload}
    assert client.post("/v1/events", json=event).status_code == 202

    def decided() -> list[dict[str, Any]]:
        return [
            m
            for m in _messages(client, profile_id)
            if m["message"] == "continue_watching" and m["channel"] == "email"
        ]

    [email] = when_idle(service, decided)
    return email


def test_unseen_in_app_messages_do_not_count_against_the_global_cap(
    db_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    settings = inapp_settings(db_url, tmp_path, _catalog(tmp_path))
    with running(settings, clock=clock) as (client, service):
        # Six notifications nobody has looked at: the email goes out.
        _six_picks(client, service, clock, "unseen")
        email = _nudge(client, service, "unseen")
        assert email["status"] == "scheduled", email  # due in two hours

        # Six shown on a device (three of them marked read before their impression):
        # they spend the day's global budget, and the email is capped.
        device = _six_picks(client, service, clock, "shown")
        center = client.get("/v1/inapp/notifications", params=CENTER, headers=device).json()
        items = center["notifications"]
        assert len(items) == 6
        for item in items[:3]:
            read = client.post(f"/v1/inapp/notifications/{item['guid']}/read", headers=device)
            assert read.status_code == 204
        clock.advance(timedelta(minutes=1))
        for item in items:
            context = {"platform": "web", "deviceId": "laptop"}
            body = {"feedback": item["impressionFeedback"], "context": context}
            answer = client.post("/v1/inapp/feedback", json=body, headers=device)
            assert answer.status_code == 200, answer.text
        capped = _nudge(client, service, "shown")
        assert (capped["status"], capped["reason"]) == (
            "suppressed",
            "frequency_capped:global:6/1d",
        )
