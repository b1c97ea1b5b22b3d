"""Device-facing in-app endpoints: fetch alerts, post feedback.

Devices authenticate with a JWT naming one profile (``Authorization: Bearer``);
everything they read or change belongs to that profile.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clarion.api import openapi
from clarion.api.auth import authenticate_device
from clarion.api.errors import error_body
from clarion.api.query import known_query_only
from clarion.api.schemas import Strict
from clarion.core.cursor import decode_cursor
from clarion.inapp import FeedbackRejected
from clarion.inapp.contract import AlertsResponse, NotificationsResponse
from clarion.inapp.device_context import DeviceContext
from clarion.inapp.recording import NotYours
from clarion.inapp.service import InAppService

router = APIRouter(prefix="/v1/inapp", tags=["in-app"], responses=openapi.DEVICE)

Platform = Annotated[str, Field(pattern=r"^(web|ios|android|tv)$")]
Short = Annotated[str, Field(min_length=1, max_length=200)]


async def device_profile(request: Request) -> str:
    """The profile the request's device token names, or 401."""
    return authenticate_device(
        request.app.state.device_auth, request.headers.get("authorization", "")
    )


ProfileId = Annotated[str, Depends(device_profile)]


async def inapp(request: Request) -> InAppService:
    service: InAppService = request.app.state.service.inapp
    return service


Service = Annotated[InAppService, Depends(inapp)]


class ContextIn(Strict):
    """What the device adds to the feedback object it posts back."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    platform: Platform
    device_id: Short = Field(alias="deviceId")
    app_version: Annotated[str, Field(max_length=40)] | None = Field(None, alias="appVersion")
    #: The device's locale, for copy it may have to show now (a federated CTA's fallback).
    locale: Annotated[str, Field(min_length=1, max_length=35)] | None = None


class FeedbackIn(Strict):
    model_config = ConfigDict(extra="forbid")

    feedback: dict[str, Any]
    context: ContextIn


class FeedbackOut(BaseModel):
    #: ``duplicate``: this feedback object had taken effect before; nothing changed.
    status: str = "recorded"
    effects: list[str]
    duplicate: bool = False
    #: The alert to show in place of the clicked one (its federated call failed),
    #: in the contract of an alert of ``AlertsResponse``.
    fallback: dict[str, Any] | None = None


_REJECTED = {"expired": 410, "malformed": 422, "bad_signature": 403, "unknown_key": 403}


@router.get("/alerts", responses={200: {"model": AlertsResponse}})
async def get_alerts(
    profile_id: ProfileId,
    service: Service,
    platform: Annotated[str, Query(pattern=r"^(web|ios|android|tv)$")],
    device_id: Annotated[str, Query(alias="deviceId", min_length=1, max_length=200)],
    app_version: Annotated[str | None, Query(alias="appVersion", max_length=40)] = None,
    locale: Annotated[str | None, Query(max_length=35)] = None,
    page: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The alerts this device should show now, in the contract of ``AlertsResponse``."""
    device = DeviceContext(platform, device_id, app_version, locale, page)
    payload = await run_in_threadpool(service.alerts, profile_id, device)
    # Serialized directly: the payload is assembled to the contract's exact shape,
    # and tests validate it against the published schema.
    return Response(orjson.dumps(payload), media_type="application/json")


# A device names itself on every center request, as on an alert fetch: the center
# lists only what this device may show, under the same rules.
PlatformQuery = Annotated[str, Query(pattern=r"^(web|ios|android|tv)$")]
DeviceIdQuery = Annotated[str, Query(alias="deviceId", min_length=1, max_length=200)]
AppVersionQuery = Annotated[str | None, Query(alias="appVersion", max_length=40)]
LocaleQuery = Annotated[str | None, Query(max_length=35)]


class MarkedOut(BaseModel):
    marked: int


@router.get(
    "/notifications",
    responses={200: {"model": NotificationsResponse}, **openapi.BAD_CURSOR},
    dependencies=[Depends(known_query_only)],
)
async def get_notifications(
    profile_id: ProfileId,
    service: Service,
    platform: PlatformQuery,
    device_id: DeviceIdQuery,
    app_version: AppVersionQuery = None,
    locale: LocaleQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    archived: bool = False,
) -> Response:
    """The profile's notification center, newest first, with the unread count for a badge:
    the items this device may show (platform and app-version rules, as for alerts),
    assembled in its locale."""
    try:
        before = decode_cursor(cursor) if cursor else None
    except ValueError:
        raise HTTPException(
            400,
            detail=error_body(
                "invalid_request",
                "the request has invalid fields",
                [{"field": "cursor", "problem": "not a cursor returned by this endpoint"}],
            ),
        ) from None
    device = DeviceContext(platform, device_id, app_version, locale)
    payload = await run_in_threadpool(
        service.notifications, profile_id, device, limit, before, archived
    )
    return Response(orjson.dumps(payload), media_type="application/json")


async def _mark(profile_id: str, guid: str, column: str, service: InAppService) -> Response:
    if not await run_in_threadpool(service.mark, profile_id, guid, column):
        raise HTTPException(404, detail=error_body("not_found", f"no notification '{guid}'"))
    return Response(status_code=204)


@router.post("/notifications/{guid}/read", status_code=204, responses=openapi.NOT_FOUND)
async def read_notification(guid: str, profile_id: ProfileId, service: Service) -> Response:
    """Mark a notification read on every device of the profile."""
    return await _mark(profile_id, guid, "read_at", service)


@router.post("/notifications/{guid}/archive", status_code=204, responses=openapi.NOT_FOUND)
async def archive_notification(guid: str, profile_id: ProfileId, service: Service) -> Response:
    """Archive a notification on every device of the profile."""
    return await _mark(profile_id, guid, "archived_at", service)


@router.post("/notifications/read-all")
async def read_all_notifications(
    profile_id: ProfileId,
    service: Service,
    platform: PlatformQuery,
    device_id: DeviceIdQuery,
    app_version: AppVersionQuery = None,
) -> MarkedOut:
    """Mark read every unread item this device's center lists, on every device."""
    device = DeviceContext(platform, device_id, app_version)
    return MarkedOut(marked=await run_in_threadpool(service.mark_all_read, profile_id, device))


@router.post("/notifications/{guid}/unarchive", status_code=204, responses=openapi.NOT_FOUND)
async def unarchive_notification(guid: str, profile_id: ProfileId, service: Service) -> Response:
    """Put an archived notification back in the center, on every device of the profile."""
    if not await run_in_threadpool(service.unarchive, profile_id, guid):
        raise HTTPException(404, detail=error_body("not_found", f"no notification '{guid}'"))
    return Response(status_code=204)


@router.post("/feedback", response_model_exclude_none=True, responses=openapi.FEEDBACK)
async def post_feedback(body: FeedbackIn, profile_id: ProfileId, service: Service) -> FeedbackOut:
    """Record an impression or a CTA click; the feedback object must be unaltered.

    When a ``BACKEND`` CTA's call failed and its alert is now shown as its fallback,
    ``fallback`` is that alert, assembled in ``context.locale``, for the device to show."""
    context = body.context
    device = DeviceContext(context.platform, context.device_id, context.app_version, context.locale)
    try:
        recorded, fallback = await run_in_threadpool(
            service.feedback_answer, profile_id, body.feedback, device
        )
    except FeedbackRejected as exc:
        message = f"feedback rejected: {exc.reason}"
        if exc.reason == "unknown_key":  # most often: restarted without CLARION_FEEDBACK_KEYS
            message += " (signed with a key this server does not have)"
        raise HTTPException(
            _REJECTED.get(exc.reason, 422), detail=error_body("feedback_rejected", message)
        ) from None
    except NotYours:
        raise HTTPException(404, detail=error_body("not_found", "no such message")) from None
    return FeedbackOut.model_validate({**recorded.to_json(), "fallback": fallback})
