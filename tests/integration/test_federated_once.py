"""A federated CTA calls its backend once per feedback object, with an idempotency key
and an HMAC signature the backend can check (the webhook provider's scheme)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clarion.channels.provider_config import InAppConfig, SinkConfig
from clarion.channels.webhook import SIGNATURE_HEADER, verify_signature
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

Call = tuple[dict[str, str], bytes]


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, list[Call]]]:
    calls: list[Call] = []

    async def ok(request: Request) -> Response:
        calls.append((dict(request.headers), await request.body()))
        return JSONResponse({"sent": True})

    async def down(request: Request) -> Response:
        calls.append((dict(request.headers), await request.body()))
        return Response(status_code=503)

    app = Starlette(
        routes=[Route("/ok", ok, methods=["POST"]), Route("/down", down, methods=["POST"])]
    )
    with serving(app) as base:
        yield base, calls


def test_every_attempt_carries_the_same_idempotency_key_and_a_valid_signature(
    backend: tuple[str, list[Call]],
) -> None:
    base, calls = backend
    down = FederatedAction(url=f"{base}/down", retries=2, backoff=0.01, secret=BACKEND_SECRET)
    caller = FederatedCaller({"DOWN": down})
    calls.clear()
    assert not caller.call("DOWN", {"a": 1}, idempotency_key="render-1:cta:DOWN").ok
    assert len(calls) == 3
    assert {headers["idempotency-key"] for headers, _ in calls} == {"render-1:cta:DOWN"}
    for headers, body in calls:
        assert orjson.loads(body) == {"a": 1}
        assert verify_signature(
            BACKEND_SECRET, headers[SIGNATURE_HEADER.lower()], body, time.time()
        )
        assert not verify_signature("x" * 32, headers[SIGNATURE_HEADER.lower()], body, time.time())
    caller.close()


def test_a_federated_action_needs_a_signing_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        FederatedAction(url="https://example.com/x")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="secret"):
        FederatedAction(url="https://example.com/x", secret="short")


def test_a_replayed_backend_click_calls_the_backend_once(
    backend: tuple[str, list[Call]], db_url: str, tmp_path: Path
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
        [alert] = when_idle(
            service,
            lambda: client.get("/v1/inapp/alerts", params=params, headers=headers).json()["alerts"],
        )
        feedback = alert["template"]["ctas"][0]["ctaFeedback"]
        render = feedback["trackingInfo"]["renderGuid"]
        calls.clear()
        body = {"feedback": feedback, "context": {"platform": "web", "deviceId": "laptop"}}
        first = client.post("/v1/inapp/feedback", json=body, headers=headers).json()
        assert first["effects"] == ["action", "federated:SEND_LINK:ok"]
        replay = client.post("/v1/inapp/feedback", json=body, headers=headers)
        assert replay.status_code == 200
        assert replay.json() == {"status": "duplicate", "effects": [], "duplicate": True}
        [(sent, payload)] = calls
        assert sent["idempotency-key"] == f"{render}:cta:SEND_LINK"
        assert orjson.loads(payload)["profileId"] == "cy"
        assert verify_signature(
            BACKEND_SECRET, sent[SIGNATURE_HEADER.lower()], payload, time.time()
        )
        timeline = client.get(f"/v1/messages/{feedback['trackingInfo']['messageGuid']}").json()
        assert [e["reason"] for e in timeline["timeline"]].count("cta:SEND_LINK") == 1
