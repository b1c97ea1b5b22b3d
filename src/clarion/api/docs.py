"""The API's documentation (``/docs``, ``/redoc``, ``/openapi.json``), open by
default or behind the API key (``docs_require_key``): the document lists every
route and parameter, which a deployment may not want to show to anyone who asks.

Behind the key, a browser must send the key itself (a proxy that adds the
header, say); tools fetch ``/openapi.json`` with it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from clarion.api.auth import require_api_key

#: FastAPI's own documentation routes, turned off when ``install_behind_key`` serves them.
WITHOUT_OPEN_DOCS: dict[str, Any] = {"docs_url": None, "redoc_url": None, "openapi_url": None}


def install_behind_key(app: FastAPI) -> None:
    """Serve the documentation routes to holders of an API key only."""
    key = [Depends(require_api_key)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=key)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=key)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

    @app.get("/redoc", include_in_schema=False, dependencies=key)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")
