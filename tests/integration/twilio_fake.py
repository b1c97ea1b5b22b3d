"""A fault-injecting fake of Twilio's Messages and Calls resources, on 127.0.0.1.

Prism checks that Clarion's requests follow Twilio's contract, but never fails
the way Twilio does; this fake does whatever its ``script`` function says for
each request (429 with Retry-After, 5xx, a slow answer, an error code), and
answers like Twilio otherwise. It checks basic auth, as Twilio does.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import orjson

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-0123456789"


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


def _handler(fake: TwilioFake) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API does

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            parts = self.path.strip("/").split("/")  # 2010-04-01/Accounts/{sid}/{R}.json
            if len(parts) != 4 or parts[1] != "Accounts" or not parts[3].endswith(".json"):
                self._reply(FakeReply(404, {"code": 20404, "message": "Not Found"}))
                return
            request = FakeRequest(
                parts[3].removesuffix(".json"),
                parts[2],
                form,
                self.headers.get("Authorization") == expected,
            )
            self._reply(fake.handle(request))

        def _reply(self, reply: FakeReply) -> None:
            if reply.delay:
                time.sleep(reply.delay)
            body = orjson.dumps(reply.body) if reply.body is not None else b""
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 resets connections under load


@contextmanager
def twilio_fake(script: Script = created) -> Iterator[TwilioFake]:
    """A running fake; its ``base_url`` is where to point a Twilio provider."""
    fake = TwilioFake(script)
    server = _Server(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
