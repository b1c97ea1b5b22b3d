"""Federated CTAs: Clarion calls the backend behind a BACKEND CTA itself, with a
timeout, retries and a declared fallback; tested against a real local HTTP peer."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clarion.channels.provider_config import InAppConfig, SinkConfig
from clarion.inapp import issue_device_token
from clarion.inapp.federated import FederatedAction, FederatedCaller
from tests.e2e.server import serving
from tests.integration.pipeline_support import (
    EXAMPLE_CATALOG,
    FakeClock,
    running,
    settings_for,
    when_idle,
)

SECRET = b"s" * 32
BACKEND_SECRET = "b" * 32


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []

    async def ok(request: Request) -> Response:
        calls.append(await request.json())
        return JSONResponse({"sent": True})

    async def down(request: Request) -> Response:
        calls.append(await request.json())
        return Response(status_code=503)

    async def refuse(request: Request) -> Response:
        calls.append(await request.json())
        return Response(status_code=400)

    app = Starlette(
        routes=[
            Route(f"/{name}", fn, methods=["POST"])
            for name, fn in [("ok", ok), ("down", down), ("refuse", refuse)]
        ]
    )
    with serving(app) as base:
        yield base, calls


def test_caller_retries_server_errors_then_falls_back(
    backend: tuple[str, list[dict[str, Any]]],
) -> None:
    base, calls = backend
    caller = FederatedCaller(
        {
            "OK": FederatedAction(url=f"{base}/ok", secret=BACKEND_SECRET),
            "DOWN": FederatedAction(
                url=f"{base}/down",
                secret=BACKEND_SECRET,
                retries=2,
                backoff=0.01,
                fallback="ADD_PHONE",
            ),
            "REFUSE": FederatedAction(
                url=f"{base}/refuse", secret=BACKEND_SECRET, retries=2, backoff=0.01
            ),
            "GONE": FederatedAction(
                url="http://127.0.0.1:9/x",
                secret=BACKEND_SECRET,
                retries=1,
                backoff=0.01,
                timeout=0.5,
            ),
        }
    )
    calls.clear()
    assert caller.call("OK", {"a": 1}, "key").ok and calls == [{"a": 1}]
    down = caller.call("DOWN", {"a": 2}, "key")
    assert (down.ok, down.attempts, down.status, down.fallback) == (False, 3, 503, "ADD_PHONE")
    refused = caller.call("REFUSE", {"a": 3}, "key")
    assert (refused.attempts, refused.error) == (1, "http_400")  # a 4xx is not retried
    gone = caller.call("GONE", {}, "key")
    assert (gone.attempts, gone.error) == (2, "connection_error")
    assert caller.call("UNKNOWN", {}, "key").error == "not_configured"
    caller.close()


def test_a_backend_cta_is_executed_by_the_service(
    backend: tuple[str, list[dict[str, Any]]], db_url: str, tmp_path: Path
) -> None:
    base, calls = backend
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    add_phone = catalog / "messages" / "add_phone.yaml"
    add_phone.write_text(
        add_phone.read_text().replace(
            "action_type: REDIRECT, action: ADD_PHONE", "action_type: BACKEND, action: SEND_LINK"
        )
    )
    clock = FakeClock()
    settings = settings_for(
        db_url,
        tmp_path,
        run_workers=False,
        catalog=catalog,
        providers={"sink": SinkConfig(path=tmp_path / "sink.jsonl"), "inapp": InAppConfig()},
        device_token_secrets={"default": SECRET.decode()},
        federated_actions={"SEND_LINK": {"url": f"{base}/ok", "secret": BACKEND_SECRET}},
    )
    with running(settings, clock=clock) as (client, service):
        client.put("/v1/profiles/cy", json={"timezone": "UTC"})
        client.post(
            "/v1/events",
            json={"type": "account.phone_missing", "profile_id": "cy", "payload": {"reason": "r"}},
        )
        token = issue_device_token(SECRET, "cy", timedelta(hours=1), now=clock())
        headers = {"Authorization": f"Bearer {token}"}
        params = {"platform": "web", "deviceId": "laptop"}

        def alerts() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = client.get(
                "/v1/inapp/alerts", params=params, headers=headers
            ).json()["alerts"]
            return found

        [alert] = when_idle(service, alerts)
        send_link = alert["template"]["ctas"][0]
        assert send_link["actionType"] == "BACKEND"
        calls.clear()
        context = {"platform": "web", "deviceId": "laptop"}
        answer = client.post(
            "/v1/inapp/feedback",
            json={"feedback": send_link["ctaFeedback"], "context": context},
            headers=headers,
        )
        assert answer.json()["effects"] == ["action", "federated:SEND_LINK:ok"]
        assert calls[0]["profileId"] == "cy" and calls[0]["action"] == "SEND_LINK"
        assert alerts() == []  # acted on: not shown again
