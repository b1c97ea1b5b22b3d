"""What every request is checked for before its body is read: NUL characters in its
path or query, who sends it, and the size of its body.

A route's dependencies authenticate only after FastAPI has read and parsed the
body, and the short paths (``clarion.api.fast*``) read it first too: without
this layer, anyone could make the server hold any number of bytes. Here a
request with a body is refused with 401 unless its API key or device token
authenticates (per route, ``rule_for``), and with 413 when its body is larger
than its route allows: at once when ``Content-Length`` says so, or as soon as a
streamed body passes the limit while it is read. The body, once read in full,
is handed on to the application.

Like the device short paths (``clarion.api.fast.DevicePath``) it is installed
twice: outside everything (``asgi_app``) and inside the CORS middleware
(``create_app``), where it checks cross-origin device requests, so that CORS
adds its headers to their refusals. A request is checked once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException
from starlette.routing import compile_path

from clarion.api.auth import api_key_matches, api_key_refused, authenticate_device
from clarion.api.errors import error_body
from clarion.api.fast import ASGIApp, Message, Receive, Scope, Send
from clarion.config import Settings
from clarion.inapp import DeviceAuthenticator

#: Set in the scope of a request this layer has checked.
_CHECKED: Final = "clarion.guarded"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FEEDBACK_PATH: Final = "/v1/inapp/feedback"

Auth = Literal["api_key", "device", "none"]


@dataclass(frozen=True, slots=True)
class Rule:
    """Who must authenticate before a route's body is read, and how large it may be."""

    auth: Auth
    limit: int


def rule_for(path: str, settings: Settings) -> Rule:
    """The rule for requests to ``path`` (a test checks it against every route)."""
    if path == "/v1/events":
        return Rule("api_key", settings.max_event_body_bytes)
    if path == "/v1/events:batch":
        return Rule("api_key", settings.max_batch_body_bytes)
    if path.startswith("/v1/inapp/"):
        limit = settings.max_feedback_body_bytes if path == FEEDBACK_PATH else None
        return Rule("device", limit or settings.max_body_bytes)
    if path.startswith(("/v1/providers/", "/v1/t/")):
        # Providers' callbacks carry their own signatures (over the body); email
        # tracking links carry ours.
        return Rule("none", settings.max_body_bytes)
    if path.startswith("/v1/profiles/"):
        return Rule("api_key", settings.max_profile_body_bytes)
    if path.startswith("/v1/"):
        return Rule("api_key", settings.max_body_bytes)
    return Rule("none", settings.max_body_bytes)


class Guard:
    """ASGI middleware checking requests before their bodies are read."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        paths: Callable[[], Iterable[str]],
        authenticator: DeviceAuthenticator | None,
        cross_origin: bool = True,
    ) -> None:
        self._app = app
        self._settings = settings
        #: The application's path templates, to name a bad path parameter.
        self._paths = paths
        self._keys = [k.encode() for k in settings.key_values()]
        self._auth = authenticator
        #: False outside the CORS middleware: cross-origin device requests go on.
        self._cross_origin = cross_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(_CHECKED):
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        rule = rule_for(path, self._settings)
        if not self._cross_origin and rule.auth == "device" and _header(scope, b"origin"):
            await self._app(scope, receive, send)  # checked inside CORS
            return
        scope[_CHECKED] = True
        field = self._nul_field(scope)
        if field is not None:
            problem = [{"field": field, "problem": "contains a NUL character"}]
            invalid = error_body("invalid_request", "the request has invalid fields", problem)
            await _answer(send, 422, invalid)
            return
        if scope["method"] not in _BODY_METHODS:
            await self._app(scope, receive, send)
            return
        refusal = self._refusal(scope, rule.auth)
        if refusal is not None:
            await _answer(send, refusal.status_code, refusal.detail, refusal.headers)
            return
        body = await _read(scope, receive, rule.limit)
        if body is None:
            message = f"the body is larger than this route's limit of {rule.limit} bytes"
            await _answer(send, 413, error_body("too_large", message))
            return
        await self._app(scope, _replay(body, receive), send)

    def _refusal(self, scope: Scope, auth: Auth) -> HTTPException | None:
        """The answer to a request whose sender does not authenticate; None if it does."""
        if auth == "api_key":
            if api_key_matches(_header(scope, b"authorization"), self._keys):
                return None
            return api_key_refused()
        if auth == "device":
            try:
                authenticate_device(self._auth, _header(scope, b"authorization").decode("latin-1"))
            except HTTPException as exc:
                return exc
        return None

    def _nul_field(self, scope: Scope) -> str | None:
        """The path parameter or query field holding a NUL character (PostgreSQL
        refuses them in text), or None."""
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if "\x00" in name or "\x00" in value:
                    return name
        if "\x00" not in scope["path"]:
            return None
        for template in self._paths():
            found = compile_path(template)[0].match(scope["path"])
            if found:
                return next(k for k, v in found.groupdict().items() if "\x00" in v)
        return "path"


def _header(scope: Scope, wanted: bytes) -> bytes:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return b""


async def _read(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to be larger than ``limit``."""
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client left; the app sees an empty body and the disconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Any]:
    """A ``receive`` giving ``body`` once, then the client's own messages (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _answer(
    send: Send, status: int, body: Any, headers: Mapping[str, str] | None = None
) -> None:
    content = orjson.dumps(body)
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        # The body may be unread: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})
