"""Delivery insights: ``GET /v1/insights/delivery`` counts messages per time bucket
and per channel, provider, country, status, reason or error code (API key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from clarion.api import openapi
from clarion.api.auth import require_api_key
from clarion.api.query import known_query_only
from clarion.api.routes import _invalid  # one 4xx shape naming the field
from clarion.api.schemas import Time
from clarion.core.model import Channel, Status
from clarion.service import Service
from clarion.store.records import INSIGHT_GROUPS, DeliveryQuery

router = APIRouter(
    prefix="/v1/insights", dependencies=[Depends(require_api_key)], responses=openapi.API_KEY
)

BUCKETS = {"1h": 3600, "1d": 86400}
#: The most buckets one answer spans: keeps a typo in ``since`` from scanning years.
MAX_BUCKETS = 2000


class InsightRow(BaseModel):
    """How many messages of one group were created in one bucket."""

    start: datetime
    group: dict[str, str | None]
    count: int


class DeliveryInsightsOut(BaseModel):
    bucket: str
    since: datetime
    until: datetime
    group_by: list[str]
    total: int
    rows: list[InsightRow]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _groups(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in INSIGHT_GROUPS]
    if unknown or not names:
        raise _invalid("group_by", f"use a comma-separated list of: {', '.join(INSIGHT_GROUPS)}")
    if len(set(names)) != len(names):
        raise _invalid("group_by", "a group is named twice")
    return names


@router.get("/delivery", dependencies=[Depends(known_query_only)])
async def delivery(
    request: Request,
    bucket: Literal["1h", "1d"] = "1h",
    since: Time | None = None,
    until: Time | None = None,
    group_by: Annotated[str, Query(max_length=200)] = "channel,status",
    channel: Channel | None = None,
    provider: Annotated[str | None, Query(max_length=200)] = None,
    message: Annotated[str | None, Query(max_length=200)] = None,
    country: Annotated[str | None, Query(max_length=8)] = None,
    status: Status | None = None,
) -> DeliveryInsightsOut:
    """Messages created in ``[since, until)`` (default: the last 7 days), counted per
    bucket (UTC hours or days) and per ``group_by`` values; empty cells are left out."""
    svc: Service = request.app.state.service
    width = BUCKETS[bucket]
    end = _utc(until) if until else svc.clock()
    start = _utc(since) if since else end - timedelta(days=7)
    if start >= end:
        raise _invalid("until", "must be after since")
    if (end - start).total_seconds() / width > MAX_BUCKETS:
        raise _invalid("since", f"the range spans more than {MAX_BUCKETS} {bucket} buckets")
    groups = _groups(group_by)
    query = DeliveryQuery(start, end, width, groups, channel, provider, message, country, status)
    counts = await run_in_threadpool(svc.store.delivery_counts, query)
    rows = [
        InsightRow(start=c.start, group=dict(zip(groups, c.group, strict=True)), count=c.count)
        for c in counts
    ]
    return DeliveryInsightsOut(
        bucket=bucket,
        since=start,
        until=end,
        group_by=list(groups),
        total=sum(c.count for c in counts),
        rows=rows,
    )
