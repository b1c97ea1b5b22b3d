"""``GET /v1/reports/incrementality``: what each message (channel, week, A/B cell) caused."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from clarion.api import openapi
from clarion.api.auth import require_api_key
from clarion.api.errors import error_body
from clarion.api.query import known_query_only
from clarion.api.routes import Svc
from clarion.api.schemas import AwareTime
from clarion.experiments.report import ReportRequest, incrementality
from clarion.store.records import ReportFilter

router = APIRouter(
    prefix="/v1/reports", dependencies=[Depends(require_api_key)], responses=openapi.API_KEY
)


class ArmOut(BaseModel):
    """Profiles, decisions (message occurrences) and converted decisions of one arm."""

    profiles: int
    decisions: int
    conversions: int
    rate: float | None


class EstimateOut(BaseModel):
    """A point estimate and its interval; ``None`` for an unbounded end."""

    value: float | None
    low: float | None
    high: float | None


class IntervalOut(BaseModel):
    low: float | None
    high: float | None


class LiftOut(BaseModel):
    """Treated minus control: rates (absolute), ratio minus one (relative), conversions
    caused among the treated (incremental), each with its (1 - alpha) interval; the
    always-valid interval may be read at any time."""

    absolute: EstimateOut
    relative: EstimateOut | None
    incremental_conversions: EstimateOut
    p_value: float
    always_valid: IntervalOut
    significant: bool


class SrmOut(BaseModel):
    """Sample-ratio check of profiles per arm against the declared split."""

    observed: dict[str, int]
    expected: dict[str, float]
    p_value: float
    mismatch: bool


class ComparisonOut(BaseModel):
    treated: ArmOut
    held_out: ArmOut
    lift: LiftOut | None
    srm: SrmOut | None


class ChannelOut(ComparisonOut):
    channel: str


class WeekOut(ComparisonOut):
    week: str  # the Monday (UTC) that starts the cohort's week of decision


class CellOut(ArmOut):
    """A cell's sent decisions, and (with a holdout) their lift over the held-out ones."""

    cell: int
    name: str
    share: float | None
    versus_held_out: LiftOut | None


class CellLiftOut(BaseModel):
    cell: int
    name: str
    lift: LiftOut | None


class ExperimentOut(BaseModel):
    id: int | None
    cells: list[CellOut]
    srm: SrmOut | None
    comparisons: list[CellLiftOut]


class GoalOut(BaseModel):
    event: str
    within_s: float


class MessageReportOut(BaseModel):
    message: str
    goal: GoalOut | None
    holdout: float | None
    overall: ComparisonOut
    channels: list[ChannelOut]
    weeks: list[WeekOut]
    experiment: ExperimentOut | None


class IncrementalityOut(BaseModel):
    since: str | None
    until: str | None
    alpha: float
    messages: list[MessageReportOut]


def _invalid(field: str, problem: str) -> HTTPException:
    fields = [{"field": field, "problem": problem}]
    return HTTPException(
        422, detail=error_body("invalid_request", "the request has invalid fields", fields)
    )


@router.get("/incrementality", dependencies=[Depends(known_query_only)])
async def incrementality_report(
    svc: Svc,
    message: Annotated[str | None, Query(max_length=200)] = None,
    since: AwareTime | None = None,
    until: AwareTime | None = None,
    alpha: Annotated[float, Query(gt=0, le=0.5)] = 0.05,
) -> IncrementalityOut:
    """Per message: treated versus held-out conversion, lift with intervals, a sample-ratio
    check, weekly cohorts, per channel, and each A/B cell against the control cell."""
    if since is not None and until is not None and until <= since:
        raise _invalid("until", "must be later than since")
    catalog = svc.catalog.current.spec
    request = ReportRequest(ReportFilter(message, since, until), alpha)
    report = await run_in_threadpool(incrementality, svc.store, catalog, request)
    if message is not None and message not in catalog.messages and not report["messages"]:
        raise _invalid("message", f"no message '{message}' in the catalog or its exposures")
    return IncrementalityOut.model_validate(report)
