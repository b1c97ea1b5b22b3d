"""``GET /v1/events/{id}``: an event, where it is, and what it caused or why not.

"Why not" is computed when asked: each trigger condition of the current catalog is
evaluated again against the stored event (pure, as ``decide()`` does), so the answer
says which catalog it was explained with. What the event caused is read from the
messages recorded for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from clarion.api import openapi
from clarion.api.auth import require_api_key
from clarion.api.errors import error_body
from clarion.api.query import known_query_only
from clarion.core.explain import Miss, Trigger, triggers
from clarion.core.model import Channel, JSONObject, Status
from clarion.service import Service
from clarion.store.records import EventRecord, MessageRecord

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key), Depends(known_query_only)],
    responses=openapi.API_KEY,
)


class StoredEventOut(BaseModel):
    id: str
    type: str
    profile_id: str
    account_id: str | None
    occurred_at: datetime
    received_at: datetime
    payload: JSONObject


class ConditionMissOut(BaseModel):
    """The test of a trigger condition the event failed."""

    field: str
    operator: str
    expected: object
    value: object
    present: bool
    type_mismatch: bool
    alternatives: list[ConditionMissOut]


class CausedOut(BaseModel):
    guid: str
    profile_id: str
    channel: Channel
    step: int
    status: Status
    reason: str | None


Outcome = Literal["caused", "condition_false", "pending", "nothing_recorded", "dead_lettered"]


class TriggeredOut(BaseModel):
    """One catalog message the event's type triggers (or that the event caused).

    ``outcome``: ``caused`` (messages recorded, whatever their status),
    ``condition_false`` (``condition`` says which test failed), ``pending`` (not
    processed yet), ``nothing_recorded`` (processed, but no message of it recorded:
    the catalog changed since), ``dead_lettered`` (processing the event raised on
    every attempt: see the event's ``last_error``). ``in_catalog`` is False for a message the event
    caused that the current catalog no longer triggers with this type."""

    message: str
    outcome: Outcome
    caused: list[CausedOut]
    condition: ConditionMissOut | None = None
    in_catalog: bool = True


class EventExplained(BaseModel):
    """An event, its processing state and, per catalog message, what it caused or why not.

    ``state`` is ``pending``, ``processing``, ``done``, or ``dead``: dead-lettered
    after its processing raised on every attempt (``attempts`` and ``last_error``
    say why)."""

    event: StoredEventOut
    state: str
    processed: bool
    processed_at: datetime | None
    attempts: int
    last_error: str | None
    no_message_for_type: bool
    messages: list[TriggeredOut]
    explained_with: Literal["current_catalog"] = "current_catalog"


async def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


@router.get("/events/{event_id}", responses=openapi.NOT_FOUND)
async def get_event(event_id: str, svc: Annotated[Service, Depends(service)]) -> EventExplained:
    """An event and what it caused, or why each message its type triggers was not made."""
    found = await run_in_threadpool(svc.store.get_event, event_id)
    if found is None:
        raise HTTPException(404, detail=error_body("not_found", f"no event '{event_id}'"))
    record, caused = found
    expected = triggers(record.event, svc.catalog.current.spec)
    return _explained(record, caused, expected)


def _explained(
    record: EventRecord, caused: list[MessageRecord], expected: tuple[Trigger, ...]
) -> EventExplained:
    by_message: dict[str, list[CausedOut]] = {}
    for m in caused:
        by_message.setdefault(m.message, []).append(
            CausedOut(
                guid=m.guid,
                profile_id=m.profile_id,
                channel=m.channel,
                step=m.step,
                status=m.status,
                reason=m.reason,
            )
        )
    processed = record.state == "done"
    not_caused: Outcome = (
        "dead_lettered"
        if record.state == "dead"
        else "nothing_recorded"
        if processed
        else "pending"
    )
    entries = []
    for trigger in expected:
        made = by_message.pop(trigger.message, [])
        if made:
            outcome: Outcome = "caused"
        elif trigger.miss is not None:
            outcome = "condition_false"
        else:
            outcome = not_caused
        condition = _miss_out(trigger.miss) if trigger.miss is not None else None
        entries.append(
            TriggeredOut(message=trigger.message, outcome=outcome, caused=made, condition=condition)
        )
    entries += [
        TriggeredOut(message=name, outcome="caused", caused=made, in_catalog=False)
        for name, made in sorted(by_message.items())
    ]
    event = record.event
    return EventExplained(
        event=StoredEventOut(
            id=event.id,
            type=event.type,
            profile_id=event.profile_id,
            account_id=event.account_id,
            occurred_at=event.occurred_at,
            received_at=record.received_at,
            payload=event.payload,
        ),
        state=record.state,
        processed=processed,
        processed_at=record.processed_at,
        attempts=record.attempts,
        last_error=record.last_error,
        no_message_for_type=not expected,
        messages=entries,
    )


def _miss_out(miss: Miss) -> ConditionMissOut:
    return ConditionMissOut(
        field=miss.field,
        operator=miss.operator,
        expected=miss.expected,
        value=miss.value,
        present=miss.present,
        type_mismatch=miss.type_mismatch,
        alternatives=[_miss_out(m) for m in miss.alternatives],
    )
