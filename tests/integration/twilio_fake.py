"""A fault-injecting fake of Twilio's Messages and Calls resources, on 127.0.0.1.

A small asyncio HTTP/1.1 server (keep-alive, Content-Length framing) in a thread
of its own, so a slow answer delays only its own connection and the benchmark
measures Clarion rather than a thread-per-connection server.

Prism checks that Clarion's requests follow Twilio's contract, but never fails
the way Twilio does; this fake does whatever its ``script`` function says for
each request (429 with Retry-After, 5xx, a slow answer, an error code), and
answers like Twilio otherwise. It checks basic auth, as Twilio does.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import orjson

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-0123456789"
_EXPECTED_AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()


@dataclass(frozen=True)
class FakeRequest:
    """One request the fake received."""

    resource: str  # "Messages" or "Calls"
    account_sid: str
    form: dict[str, str]
    authorized: bool
    at: float = field(default_factory=time.time)  # when it arrived (Unix time)


@dataclass(frozen=True)
class FakeReply:
    """What the fake answers: a status, a JSON body, headers, after ``delay`` seconds."""

    status: int = 201
    body: dict[str, object] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def created(request: FakeRequest) -> FakeReply:
    """Twilio's answer to a valid create: the resource with a fresh SID, queued."""
    prefix = "SM" if request.resource == "Messages" else "CA"
    return FakeReply(
        201,
        {
            "sid": prefix + secrets.token_hex(16),
            "account_sid": request.account_sid,
            "status": "queued",
            "to": request.form.get("To"),
            "from": request.form.get("From"),
        },
    )


def twilio_error(status: int, code: int, message: str = "error", **headers: str) -> FakeReply:
    """A Twilio error answer, e.g. ``twilio_error(400, 21211, "Invalid 'To' Phone Number")``."""
    body: dict[str, object] = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return FakeReply(status, body, dict(headers))


Script = Callable[[FakeRequest], FakeReply]


class TwilioFake:
    """The fake's state: what it received, and the function deciding each answer."""

    def __init__(self, script: Script = created) -> None:
        self.script = script
        self.requests: list[FakeRequest] = []
        self._lock = threading.Lock()
        self.base_url = ""

    def handle(self, request: FakeRequest) -> FakeReply:
        with self._lock:
            self.requests.append(request)
        if not request.authorized:
            return twilio_error(401, 20003, "Authenticate")
        return self.script(request)


_REASONS = {201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


def _parse(fake: TwilioFake, head: bytes, body: bytes) -> FakeReply:
    """The fake's answer to one request (request line and headers in ``head``)."""
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    parts = path.strip("/").split("/")  # 2010-04-01/Accounts/{sid}/{Resource}.json
    if method != "POST" or len(parts) != 4 or parts[1] != "Accounts":
        return FakeReply(404, {"code": 20404, "message": "Not Found"})
    if not parts[3].endswith(".json"):
        return FakeReply(404, {"code": 20404, "message": "Not Found"})
    form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    authorized = headers.get("authorization") == _EXPECTED_AUTH
    return fake.handle(FakeRequest(parts[3].removesuffix(".json"), parts[2], form, authorized))


def _response(reply: FakeReply) -> bytes:
    body = orjson.dumps(reply.body) if reply.body is not None else b""
    head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in reply.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


async def _serve(
    fake: TwilioFake, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """One keep-alive connection: requests framed by Content-Length, as Twilio's clients send."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            reply = _parse(fake, head[:-4], body)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            writer.write(_response(reply))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed the connection (or gave up: a timeout test)
    except asyncio.CancelledError:
        pass  # the fake is stopping: end the connection quietly
    finally:
        writer.close()


@contextmanager
def twilio_fake(script: Script = created) -> Iterator[TwilioFake]:
    """A running fake (an asyncio server in a thread of its own); its ``base_url`` is
    where to point a Twilio provider."""
    fake = TwilioFake(script)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    servers: list[asyncio.Server] = []

    async def start() -> None:
        server = await asyncio.start_server(
            lambda r, w: _serve(fake, r, w), "127.0.0.1", 0, backlog=1024
        )
        servers.append(server)
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    fake.base_url = f"http://127.0.0.1:{servers[0].sockets[0].getsockname()[1]}"

    async def stop() -> None:
        servers[0].close()
        connections = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
