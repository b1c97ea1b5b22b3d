"""Cross-origin access for the device routes only.

Devices call from web pages on other origins and authenticate with a bearer
token, never cookies, so any configured origin (by default any origin) may call
the in-app routes and load the web SDK. The server-to-server routes (API keys),
the operational endpoints and the docs get no CORS headers at all: a browser on
another origin cannot read their answers.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware

from clarion.api.fast import ASGIApp, Receive, Scope, Send

#: Where devices (and pages of other origins) call.
DEVICE_PREFIXES = ("/v1/inapp/", "/sdk/")


class DeviceCors:
    """ASGI middleware: CORS for ``DEVICE_PREFIXES``, nothing for the rest."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(DEVICE_PREFIXES):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)
