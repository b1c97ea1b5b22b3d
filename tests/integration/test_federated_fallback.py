"""A federated CTA whose backend fails after its retries: the feedback answer carries
the fallback alert (its copy, in the device's locale), and the alert stays, as its
fallback, until a CTA of the fallback ends it. A real failing backend (an
in-process HTTP server answering 500), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clarion.channels.provider_config import InAppConfig, SinkConfig
from clarion.inapp import issue_device_token
from clarion.inapp.contract import ALERTS_RESPONSE_SCHEMA
from tests.e2e.server import serving
from tests.integration.pipeline_support import (
    EXAMPLE_CATALOG,
    FakeClock,
    running,
    settings_for,
    when_idle,
)

SECRET = b"s" * 32
#: Signs the calls to the federated backend (any 32+ characters).
BACKEND_SECRET = "b" * 32
#: add_phone with a federated CTA (Clarion texts the member a link) and a fallback.
OPTIONS = """      ctas:
        - {field: cta_add, action_type: BACKEND, action: SEND_LINK, selected: true}
        - {field: cta_later, action_type: DISMISS, action: DISMISS_ALERT, cta_type: LINK}
      fallback:
        template: banner
        fields: {body: add_phone_fallback.body, cta_add: add_phone_fallback.cta}
"""
STRINGS = {
    "en": "add_phone_fallback:\n  body: We couldn't send the link. Add your number here.\n"
    "  cta: Add it now\n",
    "es": "add_phone_fallback:\n  body: No pudimos enviar el enlace. Agrega tu número aquí.\n"
    "  cta: Agregarlo ahora\n",
}


@pytest.fixture(scope="module")
def failing_backend() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP backend that answers every call with 500; yields its URL and the calls."""
    calls: list[dict[str, Any]] = []

    async def broken(request: Request) -> Response:
        calls.append(await request.json())
        return Response(status_code=500)

    with serving(Starlette(routes=[Route("/send-link", broken, methods=["POST"])])) as base:
        yield f"{base}/send-link", calls


def _catalog(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    add_phone = catalog / "messages" / "add_phone.yaml"
    text = add_phone.read_text()
    start = text.index("      ctas:\n")
    end = text.index("      # The add-phone flow")
    add_phone.write_text(text[:start] + OPTIONS + text[end:])
    for locale, strings in STRINGS.items():
        with (catalog / "strings" / f"{locale}.yaml").open("a") as file:
            file.write("\n" + strings)
    return catalog


def _text(block: dict[str, Any]) -> str:
    return "".join(element["content"] for element in block["copy"])


def test_a_failed_federated_call_shows_the_fallback_until_its_own_rule_ends_it(
    failing_backend: tuple[str, list[dict[str, Any]]], db_url: str, tmp_path: Path
) -> None:
    url, calls = failing_backend
    clock = FakeClock()
    settings = settings_for(
        db_url,
        tmp_path,
        run_workers=False,
        catalog=_catalog(tmp_path),
        providers={"sink": SinkConfig(path=tmp_path / "sink.jsonl"), "inapp": InAppConfig()},
        device_token_secrets={"default": SECRET.decode()},
        federated_actions={
            "SEND_LINK": {
                "url": url,
                "secret": BACKEND_SECRET,
                "retries": 1,
                "backoff": 0.01,
                "fallback": "ADD_PHONE",
            }
        },
    )
    with running(settings, clock=clock) as (client, service):
        client.put("/v1/profiles/cy", json={"timezone": "UTC"})
        event = {"type": "account.phone_missing", "profile_id": "cy", "payload": {"reason": "r"}}
        assert client.post("/v1/events", json=event).status_code == 202
        token = issue_device_token(SECRET, "cy", timedelta(hours=1), now=clock())
        headers = {"Authorization": f"Bearer {token}"}

        def alerts(device: str = "laptop", locale: str = "en") -> list[dict[str, Any]]:
            params = {"platform": "web", "deviceId": device, "locale": locale}
            answer = client.get("/v1/inapp/alerts", params=params, headers=headers)
            found: list[dict[str, Any]] = answer.json()["alerts"]
            return found

        [alert] = when_idle(service, alerts)
        send_link = alert["template"]["ctas"][0]
        assert (send_link["actionType"], send_link["action"]) == ("BACKEND", "SEND_LINK")
        calls.clear()
        context = {"platform": "web", "deviceId": "laptop", "locale": "es"}
        answer = client.post(
            "/v1/inapp/feedback",
            json={"feedback": send_link["ctaFeedback"], "context": context},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(calls) == 2  # the call and its one retry, both answered 500
        assert body["effects"] == [
            "action",
            "federated:SEND_LINK:failed",
            "fallback:ADD_PHONE",
            "fallback_shown",
        ]
        # What to show now: the fallback, in the device's locale, in the contract.
        fallback = body["fallback"]
        jsonschema.validate({"alerts": [fallback]}, ALERTS_RESPONSE_SCHEMA)
        assert fallback["templateId"] == "banner"
        assert _text(fallback["template"]["body"]) == (
            "No pudimos enviar el enlace. Agrega tu número aquí."
        )
        [redirect, later] = fallback["template"]["ctas"]
        assert (redirect["actionType"], redirect["action"]) == ("REDIRECT", "ADD_PHONE")
        assert _text(redirect) == "Agregarlo ahora"
        assert (later["actionType"], later["action"]) == ("DISMISS", "DISMISS_ALERT")
        tracking = fallback["attributes"]["impressionFeedback"]["trackingInfo"]
        assert (tracking["locale"], tracking["templateId"]) == ("es", "banner")

        # The alert stays, as its fallback, on every device of the profile.
        [again] = alerts(device="tablet")
        assert again["templateId"] == "banner"
        assert (
            _text(again["template"]["body"]) == "We couldn't send the link. Add your number here."
        )
        assert [c["action"] for c in again["template"]["ctas"]] == ["ADD_PHONE", "DISMISS_ALERT"]
        guid = tracking["messageGuid"]
        timeline = client.get(f"/v1/messages/{guid}").json()["timeline"]
        detail = timeline[-1]["detail"]
        assert timeline[-1]["reason"] == "cta:SEND_LINK"
        assert (detail["federated"], detail["fallback"]) == ("http_500", "ADD_PHONE")

        # The fallback's own CTA ends it.
        redirect = again["template"]["ctas"][0]
        answer = client.post(
            "/v1/inapp/feedback",
            json={"feedback": redirect["ctaFeedback"], "context": context},
            headers=headers,
        )
        assert answer.json() == {"status": "recorded", "effects": ["action"], "duplicate": False}
        assert alerts() == [] and alerts(device="tablet") == []
        assert len(calls) == 2  # a REDIRECT calls no backend


def test_a_configured_fallback_alone_keeps_the_alert_with_a_redirect(
    failing_backend: tuple[str, list[dict[str, Any]]], db_url: str, tmp_path: Path
) -> None:
    """No ``fallback`` in the catalog: the alert keeps its copy and template, and its
    BACKEND CTA becomes the configured REDIRECT, instead of disappearing."""
    url, _ = failing_backend
    catalog = _catalog(tmp_path)
    add_phone = catalog / "messages" / "add_phone.yaml"
    text = add_phone.read_text()
    start = text.index("      fallback:\n")
    end = text.index("      # The add-phone flow")
    add_phone.write_text(text[:start] + text[end:])
    clock = FakeClock()
    settings = settings_for(
        db_url,
        tmp_path,
        run_workers=False,
        catalog=catalog,
        providers={"sink": SinkConfig(path=tmp_path / "sink.jsonl"), "inapp": InAppConfig()},
        device_token_secrets={"default": SECRET.decode()},
        federated_actions={
            "SEND_LINK": {
                "url": url,
                "secret": BACKEND_SECRET,
                "retries": 0,
                "fallback": "ADD_PHONE",
            }
        },
    )
    with running(settings, clock=clock) as (client, service):
        client.put("/v1/profiles/cy", json={"timezone": "UTC"})
        event = {"type": "account.phone_missing", "profile_id": "cy", "payload": {"reason": "r"}}
        assert client.post("/v1/events", json=event).status_code == 202
        token = issue_device_token(SECRET, "cy", timedelta(hours=1), now=clock())
        headers = {"Authorization": f"Bearer {token}"}
        params = {"platform": "web", "deviceId": "laptop"}

        def alerts() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = client.get(
                "/v1/inapp/alerts", params=params, headers=headers
            ).json()["alerts"]
            return found

        [alert] = when_idle(service, alerts)
        answer = client.post(
            "/v1/inapp/feedback",
            json={"feedback": alert["template"]["ctas"][0]["ctaFeedback"], "context": params},
            headers=headers,
        ).json()
        assert answer["effects"][-2:] == ["fallback:ADD_PHONE", "fallback_shown"]
        [kept] = alerts()
        for shown in (answer["fallback"], kept):
            assert shown["templateId"] == "standard"
            assert _text(shown["template"]["body"]) == _text(alert["template"]["body"])
            send = shown["template"]["ctas"][0]
            assert (send["actionType"], send["action"]) == ("REDIRECT", "ADD_PHONE")
            assert _text(send) == _text(alert["template"]["ctas"][0])
