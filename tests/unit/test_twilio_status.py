"""Twilio status callbacks as delivery reports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clarion.channels.twilio_status import report_from_callback
from clarion.core.delivery import BadAddress
from clarion.core.model import Status

SID = "SM" + "a" * 32


@pytest.mark.parametrize("status", ["queued", "sent", "accepted", "sending"])
def test_a_message_on_its_way_stays_sent(status: str) -> None:
    report = report_from_callback({"MessageSid": SID, "MessageStatus": status})

    assert report is not None
    assert (report.provider_ref, report.status) == (SID, Status.SENT)
    assert report.reason == f"provider_status:twilio:{status}"


def test_delivered() -> None:
    report = report_from_callback({"MessageSid": SID, "MessageStatus": "delivered"})

    assert report is not None
    assert (report.status, report.reason) == (Status.DELIVERED, None)


@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_a_failure_carries_twilios_error_code(status: str) -> None:
    params = {"MessageSid": SID, "MessageStatus": status, "ErrorCode": "30007", "To": "+1555"}
    report = report_from_callback(params)

    assert report is not None
    assert report.status is Status.FAILED
    assert report.reason == "provider_rejected:twilio:30007"
    assert report.detail["error_code"] == "twilio:30007"
    assert report.bad_address is None  # 30007 is carrier filtering, not a bad number


@pytest.mark.parametrize(("code", "kind"), [("30005", "phone"), ("30006", "sms"), ("21614", "sms")])
def test_a_number_that_cannot_take_sms_is_recorded_for_good(code: str, kind: str) -> None:
    # 30005: the number does not exist (no SMS, no call); 30006 and 21614: a landline,
    # which cannot receive SMS but can take the voice fallback.
    params = {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": code, "To": "+1555"}
    report = report_from_callback(params)

    assert report is not None
    assert report.bad_address == BadAddress(kind, "+1555", f"twilio:{code}")


def test_an_unreachable_handset_is_a_limit_that_expires() -> None:
    params = {
        "MessageSid": SID,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "To": "+1555",
    }
    report = report_from_callback(params)

    assert report is not None
    assert report.bad_address == BadAddress("sms", "+1555", "twilio:30003", timedelta(hours=12))


@pytest.mark.parametrize(
    ("call_status", "status", "reason"),
    [
        ("completed", Status.DELIVERED, None),
        ("busy", Status.FAILED, "provider_rejected:twilio:busy"),
        ("no-answer", Status.FAILED, "provider_rejected:twilio:no-answer"),
        ("failed", Status.FAILED, "provider_rejected:twilio:failed"),
        ("ringing", Status.SENT, "provider_status:twilio:ringing"),
    ],
)
def test_calls(call_status: str, status: Status, reason: str | None) -> None:
    report = report_from_callback({"CallSid": "CA" + "b" * 32, "CallStatus": call_status})

    assert report is not None
    assert (report.status, report.reason) == (status, reason)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"MessageSid": SID},
        {"MessageStatus": "sent"},
        {"MessageSid": SID, "MessageStatus": "received"},
    ],
)
def test_nothing_to_report(params: dict[str, str]) -> None:
    assert report_from_callback(params) is None
