"""Bodies are read only from senders who authenticate, and only up to their route's
limit (issue 11, item 3); a batch repeating an id says so.

The ASGI application is driven directly where the test is about what is read:
a client that never finishes its body must still be answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from clarion.api.app import asgi_app, create_app
from clarion.api.auth import require_api_key
from clarion.api.guard import rule_for
from clarion.api.inapp_routes import device_profile
from clarion.config import Settings
from clarion.inapp import issue_device_token
from clarion.service import Service
from tests.integration.pipeline_support import API_KEY, FakeClock, running, settings_for

DEVICE_SECRET = b"d" * 32
#: Generous: an answer that does not wait for the body comes at once.
ANSWER_WITHIN_S = 20.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(
        f"sqlite:///{tmp_path / 'guard.db'}",
        tmp_path,
        device_token_secrets={"default": DEVICE_SECRET.decode()},
        max_event_body_bytes=2048,
        max_batch_body_bytes=8192,
        max_feedback_body_bytes=1024,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with running(settings) as (c, _):
        yield c


def _device_token(clock: FakeClock, profile_id: str = "ana") -> str:
    return issue_device_token(DEVICE_SECRET, profile_id, timedelta(hours=1), now=clock())


class Endless:
    """An ASGI ``receive`` whose body never ends: one chunk, then nothing, ever."""

    def __init__(self, chunk: bytes = b'{"type": "a.b", ') -> None:
        self.chunk = chunk
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        if self.reads == 1:
            return {"type": "http.request", "body": self.chunk, "more_body": True}
        await asyncio.Event().wait()  # the client never sends the rest
        raise AssertionError("unreachable")


class Streamed:
    """An ASGI ``receive`` streaming ``chunks`` chunks of 1 KiB without a Content-Length."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        more = self.reads < self.chunks
        return {"type": "http.request", "body": b" " * 1024, "more_body": more}


def _call(app: Any, method: str, path: str, headers: dict[str, str], receive: Any) -> list[Any]:
    """Send one request to ``app``; the response messages, once it has answered."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), ANSWER_WITHIN_S)

    asyncio.run(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return [status, orjson.loads(body) if body else None]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/events", {}),
        ("/v1/events", {"Authorization": "Bearer wrong"}),
        ("/v1/events:batch", {}),
        ("/v1/profiles/ana", {}),
        ("/v1/inapp/feedback", {}),
        ("/v1/inapp/feedback", {"Authorization": "Bearer not-a-jwt"}),
    ],
)
def test_a_request_without_credentials_is_refused_before_its_body_is_read(
    settings: Settings, path: str, headers: dict[str, str]
) -> None:
    # The app is not started: a refusal needs neither the store nor the workers.
    app = asgi_app(Service(settings, clock=FakeClock()))
    receive = Endless()
    method = "PUT" if path.startswith("/v1/profiles") else "POST"
    json = {"Content-Type": "application/json", "Content-Length": "1000000", **headers}
    status, body = _call(app, method, path, json, receive)
    assert status == 401 and body["error"] == "unauthorized"
    assert receive.reads == 0


def test_an_oversized_body_is_a_413(client: TestClient, settings: Settings) -> None:
    big = {"type": "a.b", "profile_id": "p", "payload": {"x": "y" * 4096}}
    for headers in ({}, {"Idempotency-Key": "k"}):
        response = client.post("/v1/events", json=big, headers=headers)
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "too_large"
    batch = {"events": [{"type": "a.b", "profile_id": "p", "payload": {"x": "y" * 1500}}] * 6}
    assert client.post("/v1/events:batch", json=batch).status_code == 413
    # The batch limit is the batch's: the same events in smaller numbers pass.
    assert client.post("/v1/events:batch", json={"events": batch["events"][:3]}).status_code == 202
    clock = FakeClock()
    device = {"Authorization": f"Bearer {_device_token(clock)}"}
    feedback = {"feedback": {"x": "y" * 2000}, "context": {"platform": "web", "deviceId": "d"}}
    response = client.post("/v1/inapp/feedback", json=feedback, headers=device)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    profile = {"attributes": {"x": "y" * 70_000}}
    assert client.put("/v1/profiles/p", json=profile).status_code == 413


def test_a_streamed_body_is_counted_while_it_is_read(settings: Settings) -> None:
    app = asgi_app(Service(settings, clock=FakeClock()))
    receive = Streamed(chunks=10_000)  # 10 MB, no Content-Length
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    status, body = _call(app, "POST", "/v1/events", headers, receive)
    assert status == 413 and body["error"] == "too_large"
    assert receive.reads <= 3  # 2 KiB limit: refused at the third 1 KiB chunk


def test_cross_origin_device_refusals_carry_cors_headers(client: TestClient) -> None:
    response = client.post(
        "/v1/inapp/feedback",
        json={"feedback": {}, "context": {"platform": "web", "deviceId": "d"}},
        headers={"Origin": "https://app.example.com", "Authorization": "Bearer bad"},
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "*"


def test_a_batch_repeating_an_id_is_a_422_naming_each_repeat(client: TestClient) -> None:
    events = [
        {"id": "a", "type": "x.y", "profile_id": "p"},
        {"id": "b", "type": "x.y", "profile_id": "p"},
        {"id": "a", "type": "x.y", "profile_id": "q"},
        {"type": "x.y", "profile_id": "p"},
        {"id": "b", "type": "x.y", "profile_id": "p"},
    ]
    response = client.post("/v1/events:batch", json={"events": events})
    assert response.status_code == 422
    fields = {f["field"]: f["problem"] for f in response.json()["fields"]}
    assert fields == {
        "events[2].id": "repeats events[0].id",
        "events[4].id": "repeats events[1].id",
    }
    # Nothing of a refused batch is stored: sending it again, fixed, stores all.
    events[2]["id"], events[4]["id"] = "c", "d"
    results = client.post("/v1/events:batch", json={"events": events}).json()["results"]
    assert [r["duplicate"] for r in results] == [False] * 5


def _routes(settings: Settings) -> Iterator[APIRoute]:
    """Every API route of the application, through the routers it includes."""
    app = create_app(Service(settings, clock=FakeClock()))
    for route in app.router.routes:
        included = getattr(route, "original_router", None)
        for inner in included.routes if included is not None else [route]:
            if isinstance(inner, APIRoute):
                yield inner


def test_every_route_with_a_body_is_authenticated_as_its_dependencies_say(
    settings: Settings,
) -> None:
    checked = 0
    for route in _routes(settings):
        if not (route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        calls = {d.call for d in route.dependant.dependencies}
        wanted = "api_key" if require_api_key in calls else "none"
        wanted = "device" if device_profile in calls else wanted
        path = route.path.replace("{", "").replace("}", "")
        assert rule_for(path, settings).auth == wanted, route.path
        checked += 1
    assert checked >= 8
