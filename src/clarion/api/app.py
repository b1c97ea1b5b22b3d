"""The FastAPI application: routes, error format and the service's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from clarion import __version__
from clarion.api import errors, ops, routes
from clarion.service import Service


def create_app(service: Service) -> FastAPI:
    """An app serving ``service``; the service starts and stops with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="Clarion",
        version=__version__,
        summary="Messaging orchestration: product events in, explained messages out.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.api_keys = [k.encode() for k in service.settings.key_values()]
    errors.install(app)
    app.include_router(ops.router)
    app.include_router(routes.router)
    return app
