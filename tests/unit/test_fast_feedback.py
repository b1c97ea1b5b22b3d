"""The short path for POST /v1/inapp/feedback records plain, valid posts itself and
hands everything else to the route with the body intact; nothing is recorded twice."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy.exc import OperationalError

from clarion.api.fast_feedback import FastFeedback
from clarion.inapp import DeviceAuthenticator, FeedbackRejected, issue_device_token
from clarion.inapp.device_context import DeviceContext
from clarion.inapp.recording import NotYours, Recorded

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
SECRET = b"s" * 32
TOKEN = issue_device_token(SECRET, "ana", timedelta(hours=1), now=T0)
CONTEXT = {"platform": "web", "deviceId": "laptop", "appVersion": "1.0"}
BODY = orjson.dumps({"feedback": {"kid": "k", "signature": "s"}, "context": CONTEXT})


class FakeService:
    """Records feedback, or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, object, DeviceContext]] = []

    def feedback(self, profile_id: str, obj: object, device: DeviceContext) -> Recorded:
        self.calls.append((profile_id, obj, device))
        if self.error is not None:
            raise self.error
        return Recorded(("impression",))


def post(
    body: bytes = BODY,
    *,
    content_type: bytes = b"application/json",
    service: FakeService | None = None,
) -> tuple[bytes | None, list[dict[str, Any]], FakeService]:
    """(the body the route received, or None when it was not called; what was sent; service)."""
    routed: list[bytes] = []
    sent: list[dict[str, Any]] = []
    fake = service or FakeService()

    async def route(scope: Any, receive: Any, send: Any) -> None:
        routed.append((await receive())["body"])

    async def send(message: Any) -> None:
        sent.append(dict(message))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    auth = DeviceAuthenticator({"default": SECRET}, None, lambda: T0)
    app = FastFeedback(route, lambda: fake, auth)  # type: ignore[arg-type, return-value]
    headers = [
        (b"authorization", f"Bearer {TOKEN}".encode()),
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {"type": "http", "method": "POST", "path": "/v1/inapp/feedback", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return (routed[0] if routed else None), sent, fake


def test_a_plain_post_is_recorded_without_the_route() -> None:
    routed, sent, service = post(content_type=b"application/json; charset=utf-8")
    assert routed is None
    assert service.calls == [
        ("ana", {"kid": "k", "signature": "s"}, DeviceContext("web", "laptop", "1.0"))
    ]
    assert sent[0]["status"] == 200
    assert orjson.loads(sent[1]["body"]) == {
        "status": "recorded",
        "effects": ["impression"],
        "duplicate": False,
    }


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        orjson.dumps({"feedback": {}, "context": {**CONTEXT, "platform": "desktop"}}),
        orjson.dumps({"feedback": {}, "context": CONTEXT, "extra": 1}),
    ],
)
def test_invalid_bodies_go_to_the_route_intact(body: bytes) -> None:
    routed, sent, service = post(body)
    assert routed == body and not sent and not service.calls


def test_a_backend_cta_goes_to_the_route() -> None:
    body = orjson.dumps({"feedback": {"actionType": "BACKEND"}, "context": CONTEXT})
    routed, _, service = post(body)
    assert routed == body and not service.calls


def test_other_content_types_go_to_the_route() -> None:
    routed, _, service = post(content_type=b"text/plain")
    assert routed == BODY and not service.calls


@pytest.mark.parametrize("error", [FeedbackRejected("bad_signature"), NotYours("guid")])
def test_refused_feedback_goes_to_the_route_which_answers_the_error(error: Exception) -> None:
    routed, sent, service = post(service=FakeService(error))
    assert routed == BODY and not sent and len(service.calls) == 1


def test_a_database_failure_is_answered_here_not_retried() -> None:
    failure = OperationalError("INSERT", {}, Exception("database is locked"))
    routed, sent, service = post(service=FakeService(failure))
    assert routed is None and len(service.calls) == 1
    assert sent[0]["status"] == 503
    assert orjson.loads(sent[1]["body"])["error"] == "unavailable"
