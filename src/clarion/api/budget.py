"""The outermost layer of the API: bounds the database calls a request makes.

A database that stops answering must cost a request a 503 within about a second,
not hang it for as long as the outage lasts (``clarion.store.sql.watchdog``). The
workers' batches get the store's longer default; everything under this layer (the
requests, and the intake's group commits, started from the lifespan) gets
``database_timeout_seconds``.
"""

from __future__ import annotations

from clarion.api.fast import ASGIApp, Receive, Scope, Send
from clarion.store import call_budget


class RequestBudget:
    """ASGI middleware: store calls made while serving get ``seconds`` each."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self._app = app
        self._seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with call_budget(self._seconds):
            await self._app(scope, receive, send)
