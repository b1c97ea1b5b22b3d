"""The FastAPI application: routes, error format and the service's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from clarion import __version__
from clarion.api import (
    docs,
    errors,
    event_routes,
    inapp_routes,
    insights_routes,
    openapi,
    ops,
    reports,
    routes,
    tracking_routes,
    twilio_routes,
)
from clarion.api.budget import RequestBudget
from clarion.api.device_cors import DeviceCors
from clarion.api.fast import ASGIApp, FastEvents
from clarion.api.fast_feedback import FastFeedback
from clarion.api.fast_inapp import FastAlerts
from clarion.api.guard import Guard
from clarion.inapp.service import InAppService
from clarion.service import Service

#: The web SDK and its demo page, served at /sdk/.
SDK_DIR = Path(__file__).parents[1] / "inapp" / "static"


def create_app(service: Service) -> FastAPI:
    """An app serving ``service``; the service starts and stops with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    protect_docs = service.settings.docs_require_key
    app = FastAPI(
        title="Clarion",
        version=__version__,
        summary="Messaging orchestration: product events in, explained messages out.",
        lifespan=lifespan,
        **(docs.WITHOUT_OPEN_DOCS if protect_docs else {}),
    )
    if protect_docs:
        docs.install_behind_key(app)
    app.state.service = service
    app.state.api_keys = [k.encode() for k in service.settings.key_values()]
    app.state.device_auth = service.device_authenticator()
    errors.install(app)
    # Added before CORS, so CORS wraps them: cross-origin device requests get its headers.
    app.add_middleware(
        FastAlerts,
        service=lambda: service.inapp,
        authenticator=app.state.device_auth,
        inline=service.store.prefers_inline_reads,
    )
    app.add_middleware(
        FastFeedback, service=lambda: service.inapp, authenticator=app.state.device_auth
    )
    # Inside CORS, so that cross-origin device requests it refuses get CORS headers.
    app.add_middleware(
        Guard,
        settings=service.settings,
        paths=lambda: app.openapi()["paths"],
        authenticator=app.state.device_auth,
    )
    # Devices call from web pages on other origins (configurable); nothing else may.
    app.add_middleware(DeviceCors, origins=service.settings.cors_origins)
    app.include_router(ops.router)
    app.include_router(routes.router)
    app.include_router(event_routes.router)
    app.include_router(inapp_routes.router)
    app.include_router(twilio_routes.router)
    app.include_router(insights_routes.router)
    app.include_router(reports.router)
    app.include_router(tracking_routes.router)
    app.mount("/sdk", StaticFiles(directory=SDK_DIR), name="sdk")
    openapi.install(app, service.settings)
    return app


def asgi_app(service: Service) -> ASGIApp:
    """What ``clarion serve`` runs: the app behind the short paths for single events
    and for device fetches and feedback without an ``Origin`` (cross-origin ones take
    the short paths inside the CORS middleware), all behind the checks made before a
    body is read (``clarion.api.guard``) and within the request budget."""
    app = create_app(service)

    def inapp() -> InAppService:
        return service.inapp

    auth = app.state.device_auth
    feedback = FastFeedback(app, service=inapp, authenticator=auth, cross_origin=False)
    inline = service.store.prefers_inline_reads
    alerts = FastAlerts(feedback, inapp, auth, inline=inline, cross_origin=False)
    events = FastEvents(alerts, service)
    guarded = Guard(
        events, service.settings, lambda: app.openapi()["paths"], auth, cross_origin=False
    )
    return RequestBudget(guarded, service.settings.database_timeout_seconds)
