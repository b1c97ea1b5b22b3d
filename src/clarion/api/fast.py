"""``POST /v1/events`` on a short path: the one route that takes thousands of requests a second.

FastAPI's routing, dependency injection (two sync dependencies each cost a
thread-pool round trip) and response validation cost ~500 us per request, four
times what the intake itself does; on a 2-core machine that caps intake near
1,300 events/s. This ASGI wrapper answers the common case itself: an
authorized request without an ``Idempotency-Key`` header whose body validates
as ``EventIn``. Everything else (a bad key, invalid JSON, a validation error, a
store failure) is handed to the FastAPI app with the body replayed, so errors
keep exactly one shape and one implementation.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from anyio import CapacityLimiter
from pydantic import ValidationError

from clarion.api import convert
from clarion.api.auth import api_key_matches
from clarion.api.errors import store_down
from clarion.api.schemas import EventIn
from clarion.inapp import DeviceAuthenticator, DeviceAuthError
from clarion.inapp.service import InAppService
from clarion.service import Service
from clarion.store import UNAVAILABLE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON: Final = (b"content-type", b"application/json")


class FastEvents:
    """Wraps the API app; serves accepted single events without the framework."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self._app = app
        self._service = service
        self._keys = [k.encode() for k in service.settings.key_values()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v1/events":
            await self._app(scope, receive, send)
            return
        body = await read_body(receive)
        event = self._parse(scope, body)
        if event is None:
            await self._app(scope, replay(body), send)
            return
        svc = self._service
        now = svc.clock()
        if convert.event_problem(event, now, svc.settings):
            await self._app(scope, replay(body), send)  # the route answers 422
            return
        try:
            [accepted] = await svc.intake.submit(
                [convert.to_event(event, event.id or uuid.uuid4().hex, now)]
            )
        except UNAVAILABLE as exc:
            # Answered here: handing over would wait for the database a second time.
            await store_down(exc)(scope, replay(body), send)
            return
        except Exception:
            # The store failed: let the app answer as it would have, from scratch.
            await self._app(scope, replay(body), send)
            return
        await send_json(send, convert.accepted_out(accepted).model_dump_json().encode(), 202)

    def _parse(self, scope: Scope, body: bytes) -> EventIn | None:
        """The event when the request is the plain case, else None."""
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"idempotency-key":
                return None
            elif name == b"content-type" and not _is_json(value):
                return None  # FastAPI decides what a non-JSON body means
        if not api_key_matches(authorization, self._keys):
            return None
        try:
            return EventIn.model_validate_json(body)
        except ValidationError:
            return None


def _is_json(content_type: bytes) -> bool:
    kind = content_type.split(b";", 1)[0].strip().lower()
    if kind == b"application/json":
        return True
    return kind.startswith(b"application/") and kind.endswith(b"+json")


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A ``receive`` that gives ``body`` again, for the app a short path hands over to."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def send_json(send: Send, body: bytes, status: int = 200) -> None:
    """A JSON response with ``body``."""
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class DevicePath:
    """What the device short paths (``FastAlerts``, ``FastFeedback``) share.

    Each is installed twice: outside the whole application (``asgi_app``) it
    serves requests without an ``Origin`` header, skipping every middleware
    layer; inside the CORS middleware (``create_app``, ``cross_origin=True``) it
    serves cross-origin requests, which CORS must answer. Whatever a subclass
    does not answer itself goes on to ``self._app`` (the FastAPI route).
    """

    #: Threads a subclass's work runs in at once (see ``_threads``).
    threads: int = 4

    def __init__(
        self,
        app: ASGIApp,
        service: Callable[[], InAppService],
        authenticator: DeviceAuthenticator | None,
        cross_origin: bool = True,
    ) -> None:
        self._app = app
        self._service = service
        self._auth = authenticator
        #: False outside the CORS middleware: requests with an ``Origin`` go on.
        self._cross_origin = cross_origin
        self._limiter: CapacityLimiter | None = None

    def _threads(self) -> CapacityLimiter:
        """A few threads, not the pool's 40: every thread that wants the interpreter
        lock back slows the others (made on the loop, when first used)."""
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.threads)
        return self._limiter

    def _profile(self, scope: Scope) -> str | None:
        """The profile the request's device token names, or None (see ``device_profile``)."""
        if self._auth is None:
            return None
        return device_profile(scope, self._auth, self._cross_origin)


def device_profile(
    scope: Scope, authenticator: DeviceAuthenticator, cross_origin: bool
) -> str | None:
    """The profile the first ``Authorization`` header's device token names, as the
    route's dependency reads it; None when it does not authenticate, or for a
    cross-origin request unless ``cross_origin`` (only inside the CORS middleware)."""
    authorization = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"origin" and not cross_origin:
            return None
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return authenticator.authenticate(token.strip()).profile_id
    except DeviceAuthError:
        return None
