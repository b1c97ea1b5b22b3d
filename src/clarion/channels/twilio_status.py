"""Twilio status callbacks as delivery reports: which Twilio status means what.

Messages report ``MessageSid`` and ``MessageStatus``; calls ``CallSid`` and
``CallStatus``. A failure carries Twilio's ``ErrorCode`` when it has one.
"""

from __future__ import annotations

from collections.abc import Mapping

from clarion.channels.twilio_client import NUMBER_LIMITS, error_code
from clarion.core import reasons
from clarion.core.delivery import BadAddress, DeliveryReport
from clarion.core.model import Status

#: Twilio statuses of a message or call still on its way.
_UNDERWAY = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "initiated", "ringing", "in-progress"}
)
_DELIVERED = frozenset({"delivered", "read", "completed"})
_FAILED = frozenset({"undelivered", "failed", "canceled", "busy", "no-answer"})


def underway_reason(twilio_status: str) -> str:
    """The lifecycle reason of a report that a message is still on its way."""
    return f"provider_status:twilio:{twilio_status}"


def _failure_code(params: Mapping[str, str], twilio_status: str) -> tuple[str, int | None]:
    raw = params.get("ErrorCode", "").strip()
    if raw.isdigit() and int(raw) != 0:
        return error_code(raw), int(raw)
    return error_code(twilio_status), None


def report_from_callback(params: Mapping[str, str]) -> DeliveryReport | None:
    """The delivery report a callback's parameters make, or None when they name no
    message or call, or a status that says nothing about delivery (e.g. ``received``)."""
    sid = params.get("MessageSid") or params.get("SmsSid")
    twilio_status = params.get("MessageStatus") or params.get("SmsStatus")
    if not sid:
        sid, twilio_status = params.get("CallSid"), params.get("CallStatus")
    if not sid or not twilio_status:
        return None
    twilio_status = twilio_status.strip().lower()
    detail: dict[str, object] = {"provider_status": twilio_status, "sid": sid}
    if twilio_status in _UNDERWAY:
        return DeliveryReport(sid, Status.SENT, underway_reason(twilio_status), detail)
    if twilio_status in _DELIVERED:
        return DeliveryReport(sid, Status.DELIVERED, None, detail)
    if twilio_status not in _FAILED:
        return None
    code, number = _failure_code(params, twilio_status)
    detail["error_code"] = code
    bad = None
    to = params.get("To")
    limit = NUMBER_LIMITS.get(number) if number is not None else None
    if limit is not None and to:
        bad = BadAddress(limit.kind, to, code, limit.lasts)
    return DeliveryReport(sid, Status.FAILED, reasons.provider_rejected(code), detail, bad)
