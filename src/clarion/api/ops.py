"""Operational endpoints: liveness, readiness, Prometheus metrics.

They answer without an API key (probes and scrapers seldom carry one), so they
say no more than they must: readiness is ready or not, with details (the
database's error, the catalog) only for a valid key. Metrics can be put behind
the key (``metrics_require_key``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from clarion.api.auth import has_api_key, require_api_key
from clarion.observability import MESSAGES_BY_STATUS, REGISTRY
from clarion.service import Service

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """The database answers and a catalog is loaded."""
    svc: Service = request.app.state.service
    detailed = has_api_key(request)
    try:
        await run_in_threadpool(svc.store.ping)
    except Exception as exc:
        body = {"status": "unavailable"}
        if detailed:
            body["database"] = str(getattr(exc, "orig", None) or exc)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    ready: dict[str, object] = {"status": "ready"}
    if detailed:
        ready["messages_in_catalog"] = len(svc.catalog.current.spec.messages)
    return JSONResponse(ready)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics; behind the API key with ``metrics_require_key``."""
    svc: Service = request.app.state.service
    if svc.settings.metrics_require_key:
        await require_api_key(request)
    counts = await run_in_threadpool(svc.store.counts_by_status)
    for status, n in counts.items():
        MESSAGES_BY_STATUS.labels(status=status).set(n)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
