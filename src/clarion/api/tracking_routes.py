"""Email open pixels and click redirects: called by mail clients, so no API key.

What authorizes a call is the token's signature (``clarion.channels.email_tracking``):
a forged, altered or expired token records nothing and redirects nowhere.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from clarion.api import openapi
from clarion.api.errors import error_body
from clarion.channels.email_tracking import EmailTracking, Kind, TokenRejected, Tracked
from clarion.observability import EMAIL_TRACKING, get_logger
from clarion.service import Service

log = get_logger("clarion.tracking")
router = APIRouter(prefix="/v1/t", tags=["email tracking"], responses=openapi.TRACKING)

#: A transparent 1x1 GIF, the smallest image every mail client shows.
PIXEL: Final = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
#: Each open must reach us, not a cache; proxies (e.g. Gmail's) still may cache.
_NO_STORE: Final = {"Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0"}
_STATUS: Final = {"malformed": 400, "unknown_key": 403, "bad_signature": 403, "expired": 410}
_MAX_AGENT: Final = 512

Token = Annotated[str, Path(max_length=4096)]


async def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


Svc = Annotated[Service, Depends(_service)]


def _verified(svc: Service, token: str, kind: Kind) -> Tracked:
    tracking: EmailTracking | None = svc.email_tracking
    if tracking is None:
        raise HTTPException(404, detail=error_body("not_found", "email tracking is not enabled"))
    try:
        return tracking.verify(token, kind)
    except TokenRejected as exc:
        EMAIL_TRACKING.labels(kind, exc.reason).inc()
        log.info("tracking_rejected", kind=kind, reason=exc.reason)
        raise HTTPException(
            _STATUS[exc.reason],
            detail=error_body(
                "invalid_token",
                f"the {kind} link is not one Clarion issued, or no longer valid",
                [{"field": "token", "problem": exc.reason}],
            ),
        ) from None


async def _record(svc: Service, tracked: Tracked, request: Request) -> None:
    detail: dict[str, object] = {}
    if tracked.url is not None:
        detail["url"] = tracked.url
    agent = request.headers.get("user-agent")
    if agent:
        detail["user_agent"] = agent[:_MAX_AGENT]
    try:
        found = await run_in_threadpool(
            svc.store.record_engagement, tracked.guid, tracked.kind, svc.clock(), detail
        )
    except SQLAlchemyError as exc:
        # The person behind the click matters more than the record of it.
        EMAIL_TRACKING.labels(tracked.kind, "store_error").inc()
        log.error("tracking_not_recorded", guid=tracked.guid, kind=tracked.kind, error=str(exc))
        return
    EMAIL_TRACKING.labels(tracked.kind, "recorded" if found else "unknown_message").inc()
    log.info("email_" + tracked.kind, guid=tracked.guid, recorded=found)


_GIF: Final[dict[int | str, dict[str, Any]]] = {200: {"content": {"image/gif": {}}}}


@router.get("/o/{token}.gif", response_class=Response, responses=_GIF)
async def email_open(token: Token, svc: Svc, request: Request) -> Response:
    """Record that an email was opened (its image loaded); answers a 1x1 GIF."""
    tracked = _verified(svc, token, "open")
    await _record(svc, tracked, request)
    return Response(PIXEL, media_type="image/gif", headers=_NO_STORE)


@router.get("/c/{token}", response_class=RedirectResponse, status_code=302)
async def email_click(token: Token, svc: Svc, request: Request) -> RedirectResponse:
    """Record a click on a link of an email, and redirect to the link's own URL."""
    tracked = _verified(svc, token, "click")
    await _record(svc, tracked, request)
    assert tracked.url is not None  # a verified click token always carries one
    return RedirectResponse(tracked.url, status_code=302, headers=_NO_STORE)
