"""The short path for GET /v1/inapp/alerts answers only plain, valid, authenticated
fetches; everything else reaches the route unchanged (which answers errors)."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from clarion.api.fast_inapp import FastAlerts
from clarion.inapp import DeviceAuthenticator, issue_device_token
from clarion.inapp.device_context import DeviceContext

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
SECRET = b"s" * 32
TOKEN = issue_device_token(SECRET, "ana", timedelta(hours=1), now=T0)
PLAIN = "platform=web&deviceId=laptop&locale=pt-BR&appVersion=1.2.0&page=%2Fhome"


class FakeService:
    """Answers alerts with what it was asked; ``fail`` makes it raise."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, DeviceContext]] = []

    def alerts(self, profile_id: str, device: DeviceContext) -> dict[str, object]:
        self.calls.append((profile_id, device))
        if self.fail:
            raise RuntimeError("database is down")
        return {"alerts": [{"profile": profile_id, "device": device.device_id}]}


def call(
    query: str = PLAIN,
    authorization: str | None = f"Bearer {TOKEN}",
    *,
    method: str = "GET",
    path: str = "/v1/inapp/alerts",
    service: FakeService | None = None,
    configured: bool = True,
    inline: bool = True,
    origin: str | None = None,
    cross_origin: bool = True,
) -> tuple[bool, list[dict[str, Any]], FakeService]:
    """(whether the route was called, what was sent, the service)."""
    reached: list[bool] = []
    sent: list[dict[str, Any]] = []
    fake = service or FakeService()

    async def route(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    auth = DeviceAuthenticator({"default": SECRET}, None, lambda: T0) if configured else None
    app = FastAlerts(route, lambda: fake, auth, inline, cross_origin)  # type: ignore[arg-type, return-value]
    headers = [(b"host", b"x")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
    }
    asyncio.run(app(scope, receive, send))
    return bool(reached), sent, fake


@pytest.mark.parametrize("inline", [True, False])
def test_a_plain_fetch_is_answered_without_the_route(inline: bool) -> None:
    reached, sent, service = call(inline=inline)
    assert not reached
    assert service.calls == [("ana", DeviceContext("web", "laptop", "1.2.0", "pt-BR", "/home"))]
    start, body = sent
    assert start["status"] == 200
    assert (b"content-type", b"application/json") in start["headers"]
    assert (b"content-length", str(len(body["body"])).encode()) in start["headers"]
    assert orjson.loads(body["body"]) == {"alerts": [{"profile": "ana", "device": "laptop"}]}


def test_optional_parameters_may_be_left_out_and_unknown_ones_are_ignored() -> None:
    reached, _, service = call("platform=tv&deviceId=t1&utm=x")
    assert not reached
    assert service.calls == [("ana", DeviceContext("tv", "t1", None, None, None))]


@pytest.mark.parametrize(
    "query",
    [
        "deviceId=laptop",  # platform missing
        "platform=web",  # deviceId missing
        "platform=desktop&deviceId=laptop",  # not a platform
        "platform=web&deviceId=laptop&platform=ios",  # given twice
        "platform=web&deviceId=",  # empty
        "platform=web&deviceId=laptop&locale=",  # an empty optional value
        "platform=web&deviceId=" + "d" * 201,
        "platform=web&deviceId=laptop&appVersion=" + "1" * 41,
        "platform=web&deviceId=laptop&locale=" + "l" * 36,
        "platform=web&deviceId=laptop&page=" + "p" * 501,
    ],
)
def test_odd_parameters_go_to_the_route(query: str) -> None:
    reached, sent, service = call(query)
    assert reached and not sent and not service.calls


@pytest.mark.parametrize(
    "authorization",
    [None, f"Basic {TOKEN}", "Bearer ", "Bearer not-a-token", f"Bearer {TOKEN}x"],
)
def test_requests_without_a_good_device_token_go_to_the_route(authorization: str | None) -> None:
    reached, sent, service = call(authorization=authorization)
    assert reached and not sent and not service.calls


def test_other_requests_go_to_the_route() -> None:
    assert call(method="POST")[0]
    assert call(path="/v1/inapp/notifications")[0]
    assert call(configured=False)[0]  # no device secret: the route answers 503


def test_outside_cors_a_cross_origin_fetch_goes_on_to_the_app() -> None:
    web = "https://app.example.com"
    assert call(origin=web, cross_origin=False)[0]
    assert not call(origin=web, cross_origin=True)[0]  # the instance inside CORS serves it
    assert not call(cross_origin=False)[0]


def test_a_failing_fetch_is_left_to_the_route() -> None:
    reached, sent, service = call(service=FakeService(fail=True))
    assert reached and not sent and len(service.calls) == 1
