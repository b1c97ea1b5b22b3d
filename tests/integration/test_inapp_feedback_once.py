"""In-app feedback acts once, and a dismissal ends: on SQLite and PostgreSQL, over HTTP
(both the short path and the FastAPI route) and in the store under concurrent posts."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from clarion.observability import REGISTRY
from clarion.service import Service
from tests.integration.conftest import (
    device_auth,
    fetch_alerts,
    inapp_settings,
    post_feedback,
    seed,
)
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock, running, when_idle


def _timeline(client: TestClient, guid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/v1/messages/{guid}").json()["timeline"]
    return found


def _reasons(client: TestClient, guid: str) -> list[str]:
    return [entry["reason"] for entry in _timeline(client, guid)]


def _guid(alert: dict[str, Any]) -> str:
    guid: str = alert["attributes"]["impressionFeedback"]["trackingInfo"]["messageGuid"]
    return guid


def _duplicates(kind: str) -> float:
    return REGISTRY.get_sample_value("clarion_inapp_feedback_duplicate_total", {"type": kind}) or 0


def _via_route(client: TestClient, headers: dict[str, str], feedback: object) -> Any:
    """A post the short path leaves to the FastAPI route (a JSON media type other than
    plain ``application/json``), so both implementations are held to the rule."""
    body = {"feedback": feedback, "context": {"platform": "web", "deviceId": "phone"}}
    return client.post(
        "/v1/inapp/feedback",
        content=orjson.dumps(body),
        headers={**headers, "Content-Type": "application/merge-patch+json"},
    )


def test_a_dismissed_alert_comes_back_on_every_device_when_its_suppression_ends(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    ana = device_auth(clock, "ana")
    [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    guid = _guid(alert)
    dismissed_at = clock()
    effects = post_feedback(client, ana, alert["template"]["ctas"][1]["ctaFeedback"]).json()[
        "effects"
    ]
    assert effects[:2] == ["action", "suppressed"]
    clock.advance(timedelta(hours=23, minutes=59))
    ana = device_auth(clock, "ana")
    assert fetch_alerts(client, ana) == [] and fetch_alerts(client, ana, deviceId="tablet") == []
    clock.advance(timedelta(minutes=2))  # past the day the dismiss suppressed it for
    ana = device_auth(clock, "ana")
    [back] = fetch_alerts(client, ana)
    assert _guid(back) == guid
    assert [_guid(a) for a in fetch_alerts(client, ana, deviceId="tablet")] == [guid]
    # The timeline says when the suppression ended (a worker records it, at the end time).
    ended = when_idle(
        service, lambda: [e for e in _timeline(client, guid) if e["reason"] == "unsuppressed"]
    )
    assert len(ended) == 1
    end = datetime.fromisoformat(ended[0]["at"])
    assert end == dismissed_at + timedelta(days=1)
    assert ended[0]["detail"] == {"suppressedBy": "dismiss"}


def test_an_alert_acted_on_while_dismissed_stays_gone_when_the_suppression_ends(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    ana = device_auth(clock, "ana")
    [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    update, not_now = alert["template"]["ctas"]
    post_feedback(client, ana, not_now["ctaFeedback"])
    clock.advance(timedelta(hours=1))
    # Another device still showed it, and its member clicked "Update payment" there.
    assert post_feedback(client, ana, update["ctaFeedback"], device="tablet").status_code == 200
    clock.advance(timedelta(days=1))
    ana = device_auth(clock, "ana")
    when_idle(service, lambda: "unsuppressed" in _reasons(client, _guid(alert)))
    assert fetch_alerts(client, ana) == []


def test_without_a_dismiss_rule_a_dismiss_closes_the_alert_for_good(
    db_url: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    payment = catalog / "messages" / "payment_failed.yaml"
    payment.write_text(
        payment.read_text().replace("dismiss: {suppress_for: 1d, scope: message}", "")
    )
    clock = FakeClock()
    with running(inapp_settings(db_url, tmp_path, catalog), clock=clock) as (client, service):
        seed(client, "ana")
        ana = device_auth(clock, "ana")
        [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
        effects = post_feedback(client, ana, alert["template"]["ctas"][1]["ctaFeedback"]).json()[
            "effects"
        ]
        assert effects == ["action"]
        clock.advance(timedelta(days=2))
        assert fetch_alerts(client, device_auth(clock, "ana")) == []


def test_replayed_feedback_takes_effect_once(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    ana = device_auth(clock, "ana")
    [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    guid = _guid(alert)
    impression = alert["attributes"]["impressionFeedback"]
    before = _duplicates("impression")
    first = post_feedback(client, ana, impression)
    assert first.status_code == 200 and first.json()["duplicate"] is False
    for replay in (post_feedback(client, ana, impression), _via_route(client, ana, impression)):
        assert replay.status_code == 200, replay.text
        assert replay.json() == {"status": "duplicate", "effects": [], "duplicate": True}
    # Three impressions switch to the follow-up banner: one render counts once.
    post_feedback(client, ana, impression)
    [still] = fetch_alerts(client, ana)
    assert still["templateId"] == "standard"
    assert _reasons(client, guid).count("impression") == 1
    assert _duplicates("impression") == before + 3
    # A replayed dismiss does not extend the suppression.
    not_now = alert["template"]["ctas"][1]["ctaFeedback"]
    assert _via_route(client, ana, not_now).json()["duplicate"] is False
    clock.advance(timedelta(hours=12))
    ana = device_auth(clock, "ana")
    assert post_feedback(client, ana, not_now).json()["duplicate"] is True
    clock.advance(timedelta(hours=12, minutes=1))  # a day after the dismiss itself
    ana = device_auth(clock, "ana")
    assert [_guid(a) for a in fetch_alerts(client, ana)] == [guid]
    assert _reasons(client, guid).count("cta:DISMISS_ALERT") == 1
    # A new render is new feedback: its impression counts.
    [again] = fetch_alerts(client, ana)
    assert post_feedback(client, ana, again["attributes"]["impressionFeedback"]).json()[
        "effects"
    ] == ["impression"]


def test_two_posts_of_the_same_feedback_at_once_act_once(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    ana = device_auth(clock, "ana")
    [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    guid = _guid(alert)
    for feedback in (
        alert["attributes"]["impressionFeedback"],
        alert["template"]["ctas"][1]["ctaFeedback"],
    ):
        start = threading.Barrier(4)
        answers: list[object] = []

        def post(
            send: Any, obj: object = feedback, start: Any = start, answers: Any = answers
        ) -> None:
            start.wait()
            response = send(client, ana, obj)
            answers.append(response.json().get("duplicate", response.status_code))

        # Two on the short path, two on the route, all at once.
        senders = (post_feedback, post_feedback, _via_route, _via_route)
        threads = [threading.Thread(target=post, args=(send,)) for send in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers, key=str) == [False, True, True, True]
    reasons = _reasons(client, guid)
    assert reasons.count("impression") == 1 and reasons.count("cta:DISMISS_ALERT") == 1
