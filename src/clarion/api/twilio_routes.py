"""Twilio's status callbacks: authenticated by ``X-Twilio-Signature``, not an API key."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from clarion.api import openapi
from clarion.api.errors import error_body
from clarion.channels.provider_config import TwilioAccountConfig
from clarion.channels.twilio_client import STATUS_CALLBACK_PATH
from clarion.channels.twilio_signature import SIGNATURE_HEADER, verify_signature
from clarion.channels.twilio_status import report_from_callback
from clarion.observability import PROVIDER_REPORTS, get_logger
from clarion.service import Service

log = get_logger("clarion.twilio")

router = APIRouter(responses=openapi.CALLBACK)


def _accounts(svc: Service, account_sid: str | None) -> list[TwilioAccountConfig]:
    return [
        config
        for config in svc.settings.providers.values()
        if isinstance(config, TwilioAccountConfig) and config.account_sid == account_sid
    ]


def _signed_urls(request: Request, accounts: list[TwilioAccountConfig]) -> list[str]:
    """The URLs Twilio may have signed: the configured callback URLs (what Twilio was
    told, whatever proxies sit in between), then the URL as this server saw it."""
    query = request.url.query
    urls = [url for url in (a.status_callback() for a in accounts) if url]
    if query:
        urls = [f"{url}?{query}" for url in urls]
    return [*urls, str(request.url)]


def _forbidden() -> HTTPException:
    return HTTPException(
        403, detail=error_body("forbidden", f"the {SIGNATURE_HEADER} header does not verify")
    )


@router.post(STATUS_CALLBACK_PATH, summary="Twilio status callback (signed by Twilio)")
async def twilio_status(request: Request) -> dict[str, Any]:
    """Apply a message or call status Twilio reports; 403 unless the signature verifies.

    Reports only move a message forward, so repeats and late arrivals are harmless;
    one naming a SID not stored yet is held and applied when it is.
    """
    svc: Service = request.app.state.service
    params = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    fields = dict(params)
    accounts = _accounts(svc, fields.get("AccountSid"))
    signature = request.headers.get(SIGNATURE_HEADER, "")
    tokens = [a.auth_token.get_secret_value() for a in accounts]
    if not accounts or not verify_signature(
        _signed_urls(request, accounts), params, tokens, signature
    ):
        log.warning("twilio_callback_rejected", account=fields.get("AccountSid"))
        PROVIDER_REPORTS.labels("twilio", "rejected").inc()
        raise _forbidden()
    report = report_from_callback(fields)
    if report is None:
        PROVIDER_REPORTS.labels("twilio", "ignored").inc()
        return {"applied": False, "guid": None}
    result = await run_in_threadpool(svc.store.apply_delivery_report, report, svc.clock())
    if result is None:
        # The callback overtook the dispatcher's record of the send (or names a
        # message Clarion never sent): held, applied when the SID is stored.
        log.info("twilio_callback_held", ref=report.provider_ref, status=report.status.value)
        PROVIDER_REPORTS.labels("twilio", "held").inc()
        return {"applied": False, "guid": None, "held": True}
    PROVIDER_REPORTS.labels("twilio", result.status.value if result.applied else "ignored").inc()
    if report.bad_address is not None and result.applied:
        log.info("bad_address_marked", guid=result.guid, code=report.bad_address.code)
    return {"applied": result.applied, "guid": result.guid, "status": result.status.value}
