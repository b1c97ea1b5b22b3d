"""One error shape for every 4xx: ``{"error": code, "message": ..., "fields": [...]}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from clarion.observability import get_logger
from clarion.store import UNAVAILABLE

log = get_logger("clarion.api")


def _field(loc: Sequence[Any]) -> str:
    """``("body", "events", 3, "type")`` -> ``events[3].type``."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(loc[0] if loc else "body")


def error_body(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(error_body("malformed_json", "the body is not valid JSON"), 400)
    fields = [{"field": _field(e.get("loc", ())), "problem": str(e.get("msg", ""))} for e in errors]
    return JSONResponse(
        error_body("invalid_request", "the request has invalid fields", fields), status_code=422
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, dict) else None
    body = detail or error_body(
        {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "error"
        ),
        str(exc.detail),
    )
    headers = exc.headers
    allowed = _allowed(request) if exc.status_code == 405 else None
    if allowed:
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method the OpenAPI document gives the request's path. The router's 405
    names only the methods of the first route matching the path (``PUT`` of a path
    that has ``GET`` too); empty for a path the document leaves out."""
    path = request.scope["path"]
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def _store_down(_: Request, exc: Exception) -> JSONResponse:
    return store_down(exc)


def store_down(exc: Exception) -> JSONResponse:
    """The answer to a request the database failed (503, retry)."""
    # The error's class, not its text: that quotes the statement, and a server's
    # message may quote the values it refused.
    cause = getattr(exc, "orig", None) or exc
    log.error("store_unavailable", error=type(exc).__name__, cause=type(cause).__name__)
    return JSONResponse(
        error_body(
            "unavailable", "the database is unavailable; retry later with the same event id"
        ),
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    """Anything else: a 500 in the one error shape, saying nothing of the cause (its
    text may quote stored values); the traceback goes to the log as before."""
    return JSONResponse(
        error_body("internal", "the server failed to handle this request"), status_code=500
    )


def install(app: FastAPI) -> None:
    # Starlette answers with this handler, then re-raises, so the error is still logged.
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _store_down)
