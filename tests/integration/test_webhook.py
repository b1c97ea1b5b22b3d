"""The webhook provider against a real HTTP server on 127.0.0.1."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clarion import __version__
from clarion.channels.base import Outgoing, PermanentError, Receipt, TransientError
from clarion.channels.webhook import SIGNATURE_HEADER, WebhookProvider, verify_signature
from clarion.core.contracts import WebhookOptions
from clarion.core.model import Channel

SECRET = "whsec_test"


@dataclass
class Received:
    """What the receiver saw: verified bodies and headers, in order."""

    bodies: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def receiver_app(received: Received) -> Starlette:
    async def hook(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify_signature(SECRET, signature, body, time.time()):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        received.bodies.append(orjson.loads(body))
        received.headers.append(dict(request.headers))
        behaviour = request.path_params["behaviour"]
        if behaviour == "ok":
            return JSONResponse({"id": "evt_123"})
        if behaviour == "no-id":
            return Response(status_code=204)
        if behaviour == "busy":
            return Response(status_code=429, headers={"Retry-After": "7"})
        if behaviour == "busy-until":
            return Response(
                status_code=503, headers={"Retry-After": formatdate(time.time() + 120, usegmt=True)}
            )
        if behaviour == "boom":
            return Response(status_code=500)
        if behaviour == "bad":
            return JSONResponse({"error": "no such user"}, status_code=400)
        if behaviour == "slow":
            await asyncio.sleep(1.0)
            return JSONResponse({"id": "late"})
        return Response(status_code=404)

    return Starlette(routes=[Route("/hook/{behaviour}", hook, methods=["POST"])])


@dataclass
class Receiver:
    base_url: str
    received: Received


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    received = Received()
    config = uvicorn.Config(
        receiver_app(received),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Receiver(f"http://127.0.0.1:{port}", received)
    server.should_exit = True
    thread.join(timeout=10)


def outgoing(guid: str = "A1B2C3", **overrides: object) -> Outgoing:
    values: dict[str, object] = {
        "guid": guid,
        "channel": Channel.WEBHOOK,
        "message": "payment_failed",
        "message_id": 7,
        "category": "account",
        "profile_id": "p1",
        "locale": "en-GB",
        "fields": {"title": "Your payment didn't go through"},
        "tracking": {"abTestId": "t1"},
    }
    values.update(overrides)
    return Outgoing(**values)  # type: ignore[arg-type]


def send(url: str, message: Outgoing, *, timeout: float = 5.0) -> Receipt:
    async def go() -> Receipt:
        provider = WebhookProvider(url, SECRET, name="hooks", timeout=timeout)
        try:
            return await provider.send(message)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_200_returns_receipt_with_receivers_id(receiver: Receiver) -> None:
    receipt = send(f"{receiver.base_url}/hook/ok", outgoing("GUID-OK"))

    assert receipt == Receipt(provider="hooks", ref="evt_123", detail={"status": 200})
    body, headers = receiver.received.bodies[-1], receiver.received.headers[-1]
    assert body["guid"] == "GUID-OK"
    assert body["channel"] == "webhook"
    assert body["fields"] == {"title": "Your payment didn't go through"}
    assert body["tracking"] == {"abTestId": "t1"}
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == "GUID-OK"
    assert headers["user-agent"] == f"clarion/{__version__}"


def test_2xx_without_id_has_no_ref(receiver: Receiver) -> None:
    assert send(f"{receiver.base_url}/hook/no-id", outgoing()).ref is None


def test_429_is_transient_with_retry_after_seconds(receiver: Receiver) -> None:
    with pytest.raises(TransientError) as caught:
        send(f"{receiver.base_url}/hook/busy", outgoing())
    assert caught.value.code == "http_429"
    assert caught.value.retry_after == 7.0


def test_503_retry_after_as_http_date(receiver: Receiver) -> None:
    with pytest.raises(TransientError) as caught:
        send(f"{receiver.base_url}/hook/busy-until", outgoing())
    assert caught.value.code == "http_503"
    assert caught.value.retry_after is not None
    assert 110 <= caught.value.retry_after <= 120


def test_500_is_transient(receiver: Receiver) -> None:
    with pytest.raises(TransientError) as caught:
        send(f"{receiver.base_url}/hook/boom", outgoing())
    assert caught.value.code == "http_500"
    assert caught.value.retry_after is None


def test_400_is_permanent(receiver: Receiver) -> None:
    with pytest.raises(PermanentError) as caught:
        send(f"{receiver.base_url}/hook/bad", outgoing())
    assert caught.value.code == "http_400"


def test_wrong_secret_is_rejected_by_receiver(receiver: Receiver) -> None:
    async def go() -> None:
        provider = WebhookProvider(f"{receiver.base_url}/hook/ok", "not-the-secret")
        try:
            await provider.send(outgoing())
        finally:
            await provider.aclose()

    with pytest.raises(PermanentError) as caught:
        asyncio.run(go())
    assert caught.value.code == "http_401"


def test_timeout_is_transient(receiver: Receiver) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        send(f"{receiver.base_url}/hook/slow", outgoing(), timeout=0.2)
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError) as caught:
        send(f"http://127.0.0.1:{port}/hook/ok", outgoing())
    assert caught.value.code == "connection_error"


def test_options_url_overrides_endpoint(receiver: Receiver) -> None:
    message = outgoing("GUID-OVERRIDE", options=WebhookOptions(f"{receiver.base_url}/hook/ok"))
    receipt = send(f"{receiver.base_url}/hook/bad", message)
    assert receipt.ref == "evt_123"
    assert receiver.received.bodies[-1]["guid"] == "GUID-OVERRIDE"
    assert "options" not in receiver.received.bodies[-1]
