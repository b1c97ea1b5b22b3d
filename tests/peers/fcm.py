"""A local FCM HTTP v1 peer: Google's OAuth token endpoint and ``messages:send``.

The token endpoint takes the JWT bearer grant and checks the assertion as Google
does (RS256 signature with the service account's public key, ``iss``, ``aud`` =
the token URL, the FCM scope, an hour at most), then issues an access token.
``messages:send`` wants one of those tokens, checks the message's shape (token,
notification strings, string-only data, android ttl) and answers as a test's
``reply`` function decides, with FCM's error format.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

#: A test's answer to a valid message: (status, FCM error code or None for success,
#: the error's message; a message naming "message.token" adds the field violation).
Reply = tuple[int, str | None, str]


@dataclass
class FcmPeer:
    """The peer's keys, behaviour and what it received."""

    public_key_pem: str
    client_email: str
    project: str
    token_lifetime: int = 3600
    reply: Callable[[dict[str, object]], Reply] = lambda message: (200, None, "")
    base_url: str = ""
    issued: dict[str, float] = field(default_factory=dict)  # access token -> expiry
    assertions: int = 0
    received: list[dict[str, object]] = field(default_factory=list)

    def revoke_all(self) -> None:
        self.issued.clear()

    async def token(self, request: Request) -> Response:
        # Parsed here: Starlette's form parsing needs python-multipart.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = jwt.decode(
                str(form.get("assertion", "")),
                self.public_key_pem,
                algorithms=["RS256"],
                audience=f"{self.base_url}/token",
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": str(exc)}, status_code=400
            )
        if claims["iss"] != self.client_email or claims.get("scope") != SCOPE:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if claims["exp"] - claims["iat"] > 3600:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.assertions += 1
        access = secrets.token_urlsafe(24)
        self.issued[access] = time.time() + self.token_lifetime
        return JSONResponse(
            {"access_token": access, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    async def send(self, request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.issued.get(bearer, 0) < time.time():
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if request.path_params["project"] != self.project:
            return _error(403, "SENDER_ID_MISMATCH", "Permission denied.", "PERMISSION_DENIED")
        body = await request.json()
        message = body.get("message") if isinstance(body, dict) else None
        problem = _shape_problem(message)
        if problem is not None or not isinstance(message, dict):
            return _error(400, "INVALID_ARGUMENT", problem or "no message")
        self.received.append(message)
        status, code, text = self.reply(message)
        if code is None:
            name = f"projects/{self.project}/messages/0:{secrets.token_hex(8)}"
            return JSONResponse({"name": name}, status_code=status)
        return _error(status, code, text or code)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self.token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self.send, methods=["POST"]),
            ]
        )


def _shape_problem(message: object) -> str | None:
    if not isinstance(message, dict) or not isinstance(message.get("token"), str):
        return "message.token: a registration token is required"
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or not all(
        isinstance(v, str) for v in notification.values()
    ):
        return "message.notification must hold strings"
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "message.data values must be strings"
    android = message.get("android", {})
    ttl = android.get("ttl", "0s") if isinstance(android, dict) else None
    if not isinstance(ttl, str) or not ttl.endswith("s"):
        return "message.android.ttl must be a duration like '3600s'"
    return None


def _error(status: int, code: str, message: str, rpc_status: str | None = None) -> Response:
    statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429:
                "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip
    details: list[dict[str, object]] = [{"@type": FCM_ERROR, "errorCode": code}]
    if code == "INVALID_ARGUMENT" and "message.token" in message:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "message.token", "description": message}],
            }
        )
    error = {
        "code": status,
        "message": message,
        "status": rpc_status or statuses.get(status, "UNKNOWN"),
        "details": details,
    }
    headers = {"Retry-After": "3"} if status in (429, 503) else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


@contextmanager
def running(peer: FcmPeer) -> Iterator[FcmPeer]:
    """Serve ``peer`` on 127.0.0.1 (a free port) in a thread for the block."""
    config = uvicorn.Config(
        peer.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the FCM peer did not start")
        time.sleep(0.01)
    peer.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield peer
    finally:
        server.should_exit = True
        thread.join(10)
