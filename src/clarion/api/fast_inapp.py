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

It is installed twice (``clarion.api.fast.DevicePath``): outside the whole
application for requests without an ``Origin`` header (apps, TVs, same-origin
pages), skipping every middleware layer (~30 us a fetch), and inside the CORS
middleware for cross-origin fetches, which CORS must answer.

On SQLite the fetch runs on the event loop: its one read takes ~100 us and
handing it to a thread costs more CPU than that (the interpreter lock is
contended by the threads). On PostgreSQL the read waits on the network, so it
runs in the thread pool, but in at most ``FastAlerts.threads`` threads at once
(measured with two API processes: 633 -> 442 us of CPU a fetch, p99 203 -> 31 ms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final
from urllib.parse import parse_qsl

import orjson
from anyio import to_thread

from clarion.api.errors import store_down
from clarion.api.fast import ASGIApp, DevicePath, Receive, Scope, Send, send_json
from clarion.inapp import DeviceAuthenticator
from clarion.inapp.device_context import DeviceContext
from clarion.inapp.service import InAppService
from clarion.store import UNAVAILABLE

PATH: Final = "/v1/inapp/alerts"
_PLATFORMS: Final = frozenset({"web", "ios", "android", "tv"})
#: The route's limits on each parameter's length (``inapp_routes.get_alerts``).
_LIMITS: Final = {"deviceId": 200, "appVersion": 40, "locale": 35, "page": 500}


class FastAlerts(DevicePath):
    """ASGI middleware serving plain alert fetches without the framework."""

    #: Fetches in threads at once (PostgreSQL): enough to overlap database round trips.
    threads = 4

    def __init__(
        self,
        app: ASGIApp,
        service: Callable[[], InAppService],
        authenticator: DeviceAuthenticator | None,
        inline: bool,
        cross_origin: bool = True,
    ) -> None:
        super().__init__(app, service, authenticator, cross_origin)
        self._inline = inline

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
        except UNAVAILABLE as exc:
            # Answered here: handing over would wait for the database a second time.
            await store_down(exc)(scope, receive, send)
            return
        except Exception:
            # Something else failed: let the route answer as it would have, from scratch.
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
        profile_id = self._profile(scope)
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
