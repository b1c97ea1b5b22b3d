"""``GET /v1/inapp/alerts`` on a short path: every device asks on every page or screen.

FastAPI's routing, dependency injection (query parameters, the device token,
the service) and the thread-pool round trip cost about three times what the
fetch itself does (measured in process: ~930 us against ~240 us of CPU per fetch).
This middleware answers the plain case itself: a GET of
``/v1/inapp/alerts`` whose query parameters are each given once and are plainly
valid, with a device token that authenticates. Anything else (a missing or odd
parameter, a bad token, no device secret, a failure while fetching) goes on to
the FastAPI route untouched, so errors keep exactly one shape and one
implementation, and the route stays the reference this path must agree with.

It is installed twice. Outside the whole application (``asgi_app``) it serves
requests without an ``Origin`` header (apps, TVs, same-origin pages), skipping
every middleware layer (~30 us a fetch); inside the CORS middleware
(``create_app``) it serves cross-origin fetches, which CORS must answer.

On SQLite the fetch runs on the event loop: its one read takes ~100 us and
handing it to a thread costs more CPU than that (the interpreter lock is
contended by the threads). On PostgreSQL the read waits on the network, so it
runs in the thread pool, but in at most ``_FETCH_THREADS`` threads at once
(measured with two API processes: 633 -> 442 us of CPU a fetch, p99 203 -> 31 ms).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson
from anyio import CapacityLimiter, to_thread

from clarion.inapp import DeviceAuthenticator, DeviceAuthError
from clarion.inapp.service import DeviceContext, InAppService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH: Final = "/v1/inapp/alerts"
_PLATFORMS: Final = frozenset({"web", "ios", "android", "tv"})
#: The route's limits on each parameter's length (``inapp_routes.get_alerts``).
_LIMITS: Final = {"deviceId": 200, "appVersion": 40, "locale": 35, "page": 500}
_JSON: Final = (b"content-type", b"application/json")
#: Fetches in threads at once (PostgreSQL): enough to overlap database round trips.
_FETCH_THREADS: Final = 4


class FastAlerts:
    """ASGI middleware serving plain alert fetches without the framework."""

    def __init__(
        self,
        app: ASGIApp,
        service: Callable[[], InAppService],
        authenticator: DeviceAuthenticator | None,
        inline: bool,
        cross_origin: bool = True,
    ) -> None:
        self._app = app
        self._service = service
        self._auth = authenticator
        self._inline = inline
        #: False outside the CORS middleware: requests with an ``Origin`` go on.
        self._cross_origin = cross_origin
        self._limiter: CapacityLimiter | None = None

    def _threads(self) -> CapacityLimiter:
        """A few threads for the fetches, not the pool's 40: every thread that wants
        the interpreter lock back slows the others (made on the loop, when first used)."""
        if self._limiter is None:
            self._limiter = CapacityLimiter(_FETCH_THREADS)
        return self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self._app(scope, receive, send)
            return
        request = self._parse(scope)
        if request is None:
            await self._app(scope, receive, send)
            return
        profile_id, device = request
        service = self._service()
        try:
            if self._inline:
                payload = service.alerts(profile_id, device)
            else:
                payload = await to_thread.run_sync(
                    service.alerts, profile_id, device, limiter=self._threads()
                )
        except Exception:
            # The store failed: let the route answer (503) as it would have, from scratch.
            await self._app(scope, receive, send)
            return
        await send_json(send, orjson.dumps(payload))

    def _parse(self, scope: Scope) -> tuple[str, DeviceContext] | None:
        """The profile and device when the request is the plain case, else None."""
        if self._auth is None:
            return None
        query = _query(scope["query_string"])
        if query is None:
            return None
        platform, device_id = query.get("platform"), query.get("deviceId")
        if platform not in _PLATFORMS or not device_id:
            return None
        profile_id = device_profile(scope, self._auth, self._cross_origin)
        if profile_id is None:
            return None
        device = DeviceContext(
            platform,
            device_id,
            query.get("appVersion"),
            query.get("locale"),
            query.get("page"),
        )
        return profile_id, device


async def send_json(send: Send, body: bytes, status: int = 200) -> None:
    """A JSON response with ``body``."""
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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


def _query(raw: bytes) -> dict[str, str] | None:
    """The query parameters, decoded as Starlette decodes them, when each is given at
    most once and within the route's limits (unknown ones are ignored, as the route
    ignores them); None otherwise. An empty value is left to the route."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in found or not value:
            return None
        limit = _LIMITS.get(name)
        if limit is not None and len(value) > limit:
            return None
        found[name] = value
    return found
