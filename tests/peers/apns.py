"""A local APNs peer on HTTP/2, written on ``h2`` directly (an ASGI server would do,
but clients such as aioapns JSON-decode every DATA frame, so replies must be
exactly what APNs sends: a JSON body on errors and none on success).

It checks what APNs checks before delivering: the ES256 provider token (signature
with the team's public key, ``iss``, ``kid``, age under an hour), the path
``/3/device/<hex token>``, ``apns-topic``, ``apns-push-type``, the ``apns-id``
format and a JSON payload with ``aps`` under 4 KB. Then ``reply`` (a test's
function of the request) decides the answer: ``(200, None)``, ``(410,
"Unregistered")``, ``(429, "TooManyRequests")``...

Run it in a thread (``ApnsPeer(...).start()``) or as a process for benchmarks:
``python -m tests.peers.apns --port P --public-key FILE --team T --key-id K --topic X``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt
import orjson


@dataclass(frozen=True)
class ApnsRequest:
    """One notification as the peer received it."""

    token: str
    headers: dict[str, str]
    payload: dict[str, object] | None
    provider_token: str


Reply = tuple[int, str | None]  # status, reason (None: success)
_HEX = re.compile(r"^[0-9a-fA-F]{8,200}$")


@dataclass
class ApnsPeer:
    """The peer's configuration, what it saw, and its server thread."""

    public_key_pem: str
    team_id: str
    key_id: str
    topic: str
    tls: ssl.SSLContext | None = None
    reply: Callable[[ApnsRequest], Reply] = lambda request: (200, None)
    retry_after: str | None = None  # sent with 429 and 503 replies
    record: bool = True
    received: list[ApnsRequest] = field(default_factory=list)
    provider_tokens: set[str] = field(default_factory=set)
    count: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    # -- the checks APNs makes ------------------------------------------------------
    def _auth_error(self, headers: dict[str, str]) -> tuple[str | None, str]:
        auth = headers.get("authorization", "")
        if not auth.startswith("bearer "):
            return "MissingProviderToken", ""
        bearer = auth.removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(bearer)
            claims = jwt.decode(
                bearer, self.public_key_pem, algorithms=["ES256"], options={"require": ["iat"]}
            )
        except jwt.PyJWTError:
            return "InvalidProviderToken", bearer
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return "InvalidProviderToken", bearer
        if time.time() - float(claims["iat"]) > 3600:
            return "ExpiredProviderToken", bearer
        return None, bearer

    def handle(self, headers: dict[str, str], body: bytes) -> Reply:
        self.count += 1
        path = headers.get(":path", "")
        if headers.get(":method") != "POST":
            return 405, "MethodNotAllowed"
        if not path.startswith("/3/device/"):
            return 404, "BadPath"
        token = path.removeprefix("/3/device/")
        problem, bearer = self._auth_error(headers)
        if problem is not None:
            return 403, problem
        self.provider_tokens.add(bearer)
        payload = _json(body)
        error = self._request_error(headers, token, body, payload)
        if error is not None:
            return 400, error
        request = ApnsRequest(token, headers, payload, bearer)
        if self.record:
            self.received.append(request)
        return self.reply(request)

    def _request_error(
        self, headers: dict[str, str], token: str, body: bytes, payload: dict[str, object] | None
    ) -> str | None:
        if not _HEX.match(token):
            return "BadDeviceToken"
        if "apns-topic" not in headers:
            return "MissingTopic"
        if headers["apns-topic"] != self.topic:
            return "DeviceTokenNotForTopic"
        if headers.get("apns-push-type") not in ("alert", "background"):
            return "InvalidPushType"
        if "apns-id" in headers and not _is_uuid(headers["apns-id"]):
            return "BadMessageId"
        if len(body) > 4096:
            return "PayloadTooLarge"
        if payload is None or not isinstance(payload.get("aps"), dict):
            return "PayloadEmpty"
        return None

    # -- the server -----------------------------------------------------------------
    def start(self) -> ApnsPeer:
        """Listen on 127.0.0.1 (a free port) in a thread of its own."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(
                loop.create_server(lambda: _H2Server(self), "127.0.0.1", self.port, ssl=self.tls)
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="apns-peer")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the APNs peer did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


class _H2Server(asyncio.Protocol):
    """One HTTP/2 connection: collect each stream's headers and body, answer at its end."""

    def __init__(self, peer: ApnsPeer) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self._conn = h2.connection.H2Connection(config=config)
        self._peer = peer
        self._streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._conn.initiate_connection()
        transport.write(self._conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            events = self._conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._transport.write(self._conn.data_to_send())
            self._transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers or []}
                self._streams[event.stream_id] = (headers, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                self._streams[event.stream_id][1].extend(event.data or b"")
                self._conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._respond(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._transport.close()
        self._transport.write(self._conn.data_to_send())

    def _respond(self, stream_id: int) -> None:
        headers, body = self._streams.pop(stream_id)
        status, reason = self._peer.handle(headers, bytes(body))
        apns_id = headers.get("apns-id") or str(uuid.uuid4())
        reply = [(":status", str(status)), ("apns-id", apns_id)]
        if reason is None:
            self._conn.send_headers(stream_id, reply, end_stream=True)
            return
        content: dict[str, object] = {"reason": reason}
        if status == 410:
            content["timestamp"] = int(time.time() * 1000)
        data = orjson.dumps(content)
        reply.append(("content-type", "application/json"))
        reply.append(("content-length", str(len(data))))
        if status in (429, 503) and self._peer.retry_after is not None:
            reply.append(("retry-after", self._peer.retry_after))
        self._conn.send_headers(stream_id, reply)
        self._conn.send_data(stream_id, data, end_stream=True)


def _json(body: bytes) -> dict[str, object] | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def main() -> None:
    parser = argparse.ArgumentParser(description="A local APNs peer (HTTP/2 cleartext)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", required=True, help="PEM file of the team's public key")
    parser.add_argument("--team", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument(
        "--ids", help="append '<apns-id> <unix time>' of each accepted notification here"
    )
    args = parser.parse_args()
    # Line-buffered, open for the process's life: a benchmark reading the file sees
    # every accepted notification's line.
    ids = open(args.ids, "a", buffering=1) if args.ids else None  # noqa: SIM115

    def reply(request: ApnsRequest) -> Reply:
        if ids is not None:
            ids.write(f"{request.headers.get('apns-id')} {time.time()}\n")
        return 200, None

    with open(args.public_key) as f:
        peer = ApnsPeer(
            f.read(), args.team, args.key_id, args.topic, reply=reply, port=args.port, record=False
        )
    peer.start()
    print(f"listening {peer.port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
