"""The versioned API: events, profiles and devices, messages and their timelines."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from clarion.api import convert, openapi
from clarion.api.auth import require_api_key
from clarion.api.errors import error_body
from clarion.api.query import known_query_only
from clarion.api.schemas import (
    AcceptedOut,
    BatchAcceptedOut,
    DeviceIn,
    DeviceOut,
    EventBatchIn,
    EventIn,
    MessagePage,
    MessageWithTimeline,
    ProfileIn,
    ProfileOut,
    Time,
)
from clarion.core.cursor import decode_cursor, encode_cursor
from clarion.core.model import Channel, Event, Status
from clarion.service import Service
from clarion.store.records import MessageQuery

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], responses=openapi.API_KEY)


async def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


Svc = Annotated[Service, Depends(service)]


def _invalid(field: str, problem: str, status: int = 422) -> HTTPException:
    return HTTPException(
        status,
        detail=error_body(
            "invalid_request",
            "the request has invalid fields",
            [{"field": field, "problem": problem}],
        ),
    )


def _event(body: EventIn, svc: Service, idempotency_key: str | None, where: str) -> Event:
    if body.id and idempotency_key and body.id != idempotency_key:
        raise _invalid(f"{where}id", "differs from the Idempotency-Key header")
    now = svc.clock()
    problem = convert.event_problem(body, now, svc.settings)
    if problem:
        raise _invalid(f"{where}occurred_at", problem)
    event_id = body.id or idempotency_key or uuid.uuid4().hex
    return convert.to_event(body, event_id, now)


@router.post("/events", status_code=202, responses=openapi.BODY)
async def post_event(
    body: EventIn,
    svc: Svc,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> AcceptedOut:
    """Accept one event durably; a repeated id returns the original answer."""
    [accepted] = await svc.intake.submit([_event(body, svc, idempotency_key, "")])
    return convert.accepted_out(accepted)


@router.post("/events:batch", status_code=202, responses=openapi.BODY)
async def post_events(body: EventBatchIn, svc: Svc) -> BatchAcceptedOut:
    """Accept up to 1,000 events in one durable commit; answers in request order.

    A batch naming an id twice is refused (422, each repeat named): the second
    event would otherwise be answered as a duplicate of the first and dropped."""
    _no_repeated_ids(body.events)
    events = [_event(e, svc, None, f"events[{i}].") for i, e in enumerate(body.events)]
    results = await svc.intake.submit(events)
    return BatchAcceptedOut(results=[convert.accepted_out(a) for a in results])


def _no_repeated_ids(events: list[EventIn]) -> None:
    first: dict[str, int] = {}
    repeats: list[dict[str, str]] = []
    for i, event in enumerate(events):
        if event.id is None:
            continue
        if event.id in first:
            repeats.append(
                {"field": f"events[{i}].id", "problem": f"repeats events[{first[event.id]}].id"}
            )
        else:
            first[event.id] = i
    if repeats:
        raise HTTPException(
            422, detail=error_body("invalid_request", "the batch repeats event ids", repeats)
        )


@router.put("/profiles/{profile_id}", responses=openapi.BODY)
async def put_profile(profile_id: str, body: ProfileIn, svc: Svc) -> ProfileOut:
    """Create or replace a profile (its devices are kept)."""
    _check_id(profile_id, "profile_id")
    profile = convert.to_profile(profile_id, body)
    await run_in_threadpool(svc.store.upsert_profile, profile, svc.clock())
    return await get_profile(profile_id, svc)


@router.get("/profiles/{profile_id}", responses=openapi.NOT_FOUND)
async def get_profile(profile_id: str, svc: Svc) -> ProfileOut:
    profile = await run_in_threadpool(svc.store.get_profile, profile_id)
    if profile is None:
        raise HTTPException(404, detail=error_body("not_found", f"no profile '{profile_id}'"))
    return convert.profile_out(profile)


@router.put(
    "/profiles/{profile_id}/devices/{device_id}",
    responses={**openapi.BODY, **openapi.NOT_FOUND},
)
async def put_device(profile_id: str, device_id: str, body: DeviceIn, svc: Svc) -> DeviceOut:
    """Create or replace a device of an existing profile."""
    _check_id(device_id, "device_id")
    device = convert.to_device(device_id, body)
    if not await run_in_threadpool(svc.store.upsert_device, profile_id, device, svc.clock()):
        raise HTTPException(404, detail=error_body("not_found", f"no profile '{profile_id}'"))
    return convert.device_out(device)


@router.get("/profiles/{profile_id}/devices/{device_id}", responses=openapi.NOT_FOUND)
async def get_device(profile_id: str, device_id: str, svc: Svc) -> DeviceOut:
    profile = await run_in_threadpool(svc.store.get_profile, profile_id)
    device = next((d for d in profile.devices if d.id == device_id), None) if profile else None
    if device is None:
        raise HTTPException(
            404, detail=error_body("not_found", f"no device '{device_id}' of '{profile_id}'")
        )
    return convert.device_out(device)


@router.get("/messages/{guid}", responses=openapi.NOT_FOUND)
async def get_message(guid: str, svc: Svc) -> MessageWithTimeline:
    """A message and every state change it went through, with reasons."""
    message = await run_in_threadpool(svc.store.get_message, guid)
    if message is None:
        raise HTTPException(404, detail=error_body("not_found", f"no message '{guid}'"))
    timeline = await run_in_threadpool(svc.store.timeline, guid)
    ladder = await run_in_threadpool(svc.store.ladder, guid)
    out = convert.message_out(message)
    return MessageWithTimeline(
        **out.model_dump(),
        timeline=[convert.lifecycle_out(e) for e in timeline],
        escalation=[convert.rung_out(r) for r in ladder],
    )


@router.get(
    "/profiles/{profile_id}/messages",
    dependencies=[Depends(known_query_only)],
    responses={**openapi.BAD_CURSOR, **openapi.NOT_FOUND},
)
async def list_messages(
    profile_id: str,
    svc: Svc,
    response: Response,
    message: str | None = None,
    channel: Channel | None = None,
    status: Status | None = None,
    since: Time | None = None,
    until: Time | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> MessagePage:
    """A profile's messages, newest first, with why each was or was not sent."""
    try:
        before = decode_cursor(cursor) if cursor else None
    except ValueError:
        raise _invalid("cursor", "not a cursor returned by this endpoint", 400) from None
    query = MessageQuery(profile_id, message, channel, status, since, until, limit + 1, before)
    rows = await run_in_threadpool(svc.store.list_messages, query)
    if (
        not rows
        and before is None
        and not await run_in_threadpool(svc.store.profile_known, profile_id)
    ):
        raise HTTPException(404, detail=error_body("not_found", f"no profile '{profile_id}'"))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1].created_at, page[-1].guid) if more else None
    response.headers["Cache-Control"] = "no-store"
    return MessagePage(messages=[convert.message_out(m) for m in page], next_cursor=next_cursor)


def _check_id(value: str, field: str) -> None:
    if not (0 < len(value) <= 200) or not all(c.isalnum() or c in "_.:@+-" for c in value):
        raise _invalid(field, "use 1-200 letters, digits or _.:@+-")
