"""The whole in-app path in a real browser: an event in, the alert on a laptop, "Not now"
clicked there, and the alert gone from the same profile's tablet.

Clarion runs in-process on a real socket (uvicorn in a thread) with the example
catalog on SQLite; the browser loads the SDK's demo page from Clarion itself
(``/sdk/demo.html``), as a customer's web app would load ``/sdk/clarion-inapp.js``.
Two browser contexts share nothing, so they are two devices of one profile.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Response, expect

from clarion.api.app import asgi_app
from clarion.inapp import issue_device_token
from clarion.inapp.contract import AlertsResponse
from clarion.runtime.clock import system_clock
from clarion.service import Service
from tests.e2e.browser import demo_url, open_demo
from tests.e2e.server import serving
from tests.integration.pipeline_support import AUTH, settings_for, wait_for

KID = "e2e"
DEVICE_SECRET = "device-secret-for-the-e2e-test-0123456789"
FEEDBACK_KEY = "feedback-key-for-the-e2e-test-0123456789"
PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}
ALERT = "[data-clarion-alert]"


@pytest.fixture
def clarion(tmp_path: Path) -> Iterator[str]:
    """Clarion with the example catalog, on a free port; yields its base URL."""
    settings = settings_for(
        f"sqlite:///{tmp_path / 'clarion.db'}",
        tmp_path,
        device_token_secrets={KID: DEVICE_SECRET},
        feedback_keys={KID: FEEDBACK_KEY},
    )
    # The real clock: device tokens and feedback expiry are checked against it.
    with serving(asgi_app(Service(settings, clock=system_clock))) as url:
        yield url


def alerts_for(api: httpx.Client, token: str, device: str) -> list[dict[str, Any]]:
    params = {
        "platform": "web",
        "deviceId": device,
        "appVersion": "1.0.0",
        "locale": "en",
        "page": "/home",
    }
    answer = api.get(
        "/v1/inapp/alerts", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    AlertsResponse.model_validate(answer.json())
    alerts: list[dict[str, Any]] = answer.json()["alerts"]
    return alerts


def text_of(block: dict[str, Any]) -> str:
    return "".join(element["content"] for element in block["copy"])


def test_not_now_on_one_device_hides_the_alert_on_the_other(
    clarion: str, new_context: Callable[..., BrowserContext]
) -> None:
    token = issue_device_token(DEVICE_SECRET.encode(), "ana", timedelta(hours=1), kid=KID)
    with httpx.Client(base_url=clarion, timeout=10.0) as api:
        profile = {"locale": "en", "timezone": "UTC", "email": "ana@example.com"}
        assert api.put("/v1/profiles/ana", json=profile, headers=AUTH).status_code == 200
        event = {"id": "e2e-1", "type": "payment.failed", "profile_id": "ana", "payload": PAYMENT}
        assert api.post("/v1/events", json=event, headers=AUTH).status_code == 202
        [alert] = wait_for(lambda: alerts_for(api, token, "probe"), timeout=20.0)
        assert alert["templateId"] == "standard"
        assert "Dark" in text_of(alert["template"]["body"])

        # The laptop: the alert appears, drawn by the SDK served by Clarion.
        feedback: list[Response] = []
        laptop = new_context().new_page()
        laptop.on(
            "response",
            lambda r: feedback.append(r) if r.url.endswith("/v1/inapp/feedback") else None,
        )
        laptop.goto(demo_url(clarion, token, "laptop"))
        dialog = laptop.locator(ALERT)
        expect(dialog).to_have_count(1)
        expect(dialog).to_have_attribute("data-clarion-template", "standard")
        title = text_of(alert["template"]["title"])
        expect(dialog.locator("[data-clarion-title]")).to_have_text(title)
        expect(dialog.locator("[data-clarion-body] strong")).to_have_text("Dark")
        expect(dialog.locator("[data-clarion-cta=UPDATE_PAYMENT]")).to_be_focused()

        # "Not now": the CTA's feedback is posted, accepted, and the alert closes.
        def is_cta_feedback(response: Response) -> bool:
            body = response.request.post_data or ""
            return response.url.endswith("/v1/inapp/feedback") and '"feedbackType":"cta"' in body

        with laptop.expect_response(is_cta_feedback) as posted:
            dialog.locator("[data-clarion-cta=DISMISS_ALERT]").click()
        assert posted.value.status == 200, posted.value.text()
        assert posted.value.json()["status"] == "recorded"
        sent = json.loads(posted.value.request.post_data or "{}")
        dismiss = next(c for c in alert["template"]["ctas"] if c["action"] == "DISMISS_ALERT")
        assert sent["context"] == {"platform": "web", "deviceId": "laptop", "appVersion": "1.0.0"}
        assert sent["feedback"]["actionType"] == "DISMISS"
        assert sent["feedback"].keys() == dismiss["ctaFeedback"].keys()
        expect(dialog).to_have_count(0)
        for _ in range(100):  # Playwright reports responses only while it runs: wait in it
            if len(feedback) >= 2:
                break
            laptop.wait_for_timeout(50)
        assert [r.status for r in feedback] == [200, 200]  # the impression, then the click
        assert laptop.evaluate("window.clarionDemo.errors") == []

        # The tablet, another device of the same profile: nothing to show any more.
        tablet = open_demo(new_context(), demo_url(clarion, token, "tablet"))
        expect(tablet.locator("#clarion-demo-status")).to_have_text("ready: 0 alert(s)")
        assert tablet.locator(ALERT).count() == 0
        assert alerts_for(api, token, "probe") == []
