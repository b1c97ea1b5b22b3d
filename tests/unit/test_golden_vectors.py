"""Golden vectors: identifiers and allocations that must never change across versions.

Each expected value was computed once (from the code of December 2026) and is written
here literally. A change to any of them means an upgrade would re-send messages (a new
guid or push id is a new message to the providers and devices), move profiles between
A/B cells or in and out of holdouts in the middle of an experiment, or reject the
feedback objects and tracking links already out on devices and in inboxes. If one
fails, the change is the bug; an intended change needs a migration plan, not a new
vector.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from clarion.catalog import load_catalog
from clarion.channels.apns import ApnsAuth, ApnsClient
from clarion.channels.email_render import message_id
from clarion.channels.email_tracking import EmailTracking
from clarion.channels.fcm import message_body
from clarion.channels.push_message import Notification, push_id
from clarion.channels.webhook import signature_header
from clarion.core.experiment import Cell, Experiment, is_held_out, unit_hash
from clarion.core.ids import message_guid
from clarion.core.inapp_spec import ActionType
from clarion.core.tracking import FeedbackBody, FeedbackType, Tracking
from clarion.inapp import FeedbackSigner
from clarion.signing import KeyRing
from tests.peers.keys import ec_key
from tests.unit.inapp_fixtures import EXAMPLE

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KEY = b"k" * 32
GUID = (
    "0746F5B5A795670085A639D02F07D43B8A29F0E1"  # message_guid("evt-1", "payment_failed", 0, "p-42")
)
PUSH_ID = "2e1d83e1-7d8a-5c00-9b7a-980e91cf8575"
PROFILES = [f"p-{i}" for i in range(16)]


@pytest.mark.parametrize(
    ("event_id", "message", "step", "profile_id", "guid"),
    [
        ("evt-1", "payment_failed", 0, "p-42", GUID),
        ("evt-1", "payment_failed", 1, "p-42", "E1537B5F178B752C8633CB6D3BDBC611DEE74EE7"),
        (
            "order:9/ü",
            "continue_watching",
            2,
            "ana@example.com",
            "910483A5513F9A87C236B01278B22C1D041E30CF",
        ),
    ],
)
def test_message_guid(event_id: str, message: str, step: int, profile_id: str, guid: str) -> None:
    assert message_guid(event_id, message, step, profile_id) == guid


def test_push_id_and_the_headers_that_carry_it() -> None:
    assert push_id(GUID) == PUSH_ID
    note = Notification(GUID, push_id(GUID), "Title", "Body")
    apns = ApnsClient(ApnsAuth("TEAM123456", "KEY1234567", ec_key().private_pem), "com.x")
    headers = apns._headers(note, "jwt")
    assert headers["apns-id"] == headers["apns-collapse-id"] == PUSH_ID
    android = orjson.loads(message_body(note, "token"))["message"]["android"]
    assert android["collapse_key"] == android["notification"]["tag"] == PUSH_ID


def test_email_message_id() -> None:
    assert message_id(GUID, "mail.example.com") == f"<{GUID}@mail.example.com>"


@pytest.mark.parametrize(
    ("salt", "key", "value"),
    [
        ("holdout:continue_watching", "p-42", 0.05009118253027284),
        ("ab:signup:7", "p-42", 0.3594885521993503),
        ("", "", 0.9618044850102755),
    ],
)
def test_unit_hash(salt: str, key: str, value: float) -> None:
    assert unit_hash(salt, key) == value  # exactly: the same bits, not approximately


def test_ab_allocation() -> None:
    halves = Experiment(7, "signup", (Cell("control", 1), Cell("b", 1)))
    assert [halves.allocate(p) for p in PROFILES] == [
        1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1,
    ]  # fmt: skip
    uneven = Experiment(12, "copy", (Cell("a", 1), Cell("b", 2), Cell("c", 1)))
    assert [uneven.allocate(p) for p in PROFILES] == [
        2, 1, 1, 2, 0, 2, 0, 0, 1, 2, 1, 2, 2, 0, 2, 0,
    ]  # fmt: skip


def test_the_example_catalogs_running_test_keeps_its_cells() -> None:
    test = load_catalog(EXAMPLE).message("signup_dropoff").experiment
    assert test is not None and (test.id, test.salt) == (31, "")
    assert [test.allocate(p) for p in PROFILES] == [
        0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0,
    ]  # fmt: skip


def test_holdout_membership() -> None:
    held = [p for p in (f"p-{i}" for i in range(40)) if is_held_out("continue_watching", p, 0.2)]
    assert held == ["p-7", "p-12", "p-17", "p-22", "p-26", "p-34"]
    # A smaller share holds out a subset: lowering a holdout never moves a treated profile.
    assert not is_held_out("continue_watching", "p-42", 0.05)  # its hash is 0.05009...
    assert is_held_out("continue_watching", "p-42", 0.0501)


def test_feedback_signature() -> None:
    # Feedback objects live on devices for their ttl: an upgrade must still accept them.
    signer = FeedbackSigner({"k1": KEY}, "k1", lambda: T0)
    tracking = Tracking(
        GUID,
        "evt-1",
        "85661FCF-0857-42A7-AA0E-559A26A5723B_R",
        "payment_failed",
        1001,
        "pt-BR",
        "standard",
        2222,
        1,
    )
    body = FeedbackBody(86400, FeedbackType.CTA, tracking, ActionType.DISMISS, "DISMISS_ALERT")
    signed = signer.sign(body)
    assert signed == {
        "ttl": 86400,
        "feedbackType": "cta",
        "trackingInfo": {
            "messageGuid": GUID,
            "eventGuid": "evt-1",
            "renderGuid": "85661FCF-0857-42A7-AA0E-559A26A5723B_R",
            "messageName": "payment_failed",
            "messageId": 1001,
            "locale": "pt-BR",
            "abTestId": 2222,
            "abTestCell": 1,
            "templateId": "standard",
        },
        "actionType": "DISMISS",
        "action": "DISMISS_ALERT",
        "kid": "k1",
        "expiresAt": 1772539200,
        "signature": "fJcerSECaePlJLPtp6xtOVTarCyLmS4E0zNLowarrmM",
    }
    assert signer.verify(signed) == body


def test_email_tracking_links() -> None:
    # Links sit in inboxes for months: an upgrade must still verify and redirect them.
    links = EmailTracking(
        "https://t.example.com", KeyRing({"k1": KEY}, "k1"), lambda: T0, timedelta(days=30)
    )
    assert links.click_url(GUID, "https://www.example.com/account/payment?a=1") == (
        "https://t.example.com/v1/t/c/k1.eyJnIjoiMDc0NkY1QjVBNzk1NjcwMDg1QTYzOUQwMkYwN0Q0M0I4"
        "QTI5RjBFMSIsInQiOiJjIiwidSI6Imh0dHBzOi8vd3d3LmV4YW1wbGUuY29tL2FjY291bnQvcGF5bWVudD9hP"
        "TEiLCJ4IjoxNzc1MDQ0ODAwfQ.q1byaPuol2eVUXPfzqRoK2aqK3wk9P0oBHqbI-p0Ulk"
    )
    assert links.pixel_url(GUID) == (
        "https://t.example.com/v1/t/o/k1.eyJnIjoiMDc0NkY1QjVBNzk1NjcwMDg1QTYzOUQwMkYwN0Q0M0I4"
        "QTI5RjBFMSIsInQiOiJvIiwieCI6MTc3NTA0NDgwMH0.9kIhV5mn2XbUGmlj4xSCem0cOD2Dq6bOF-KCG-G74uQ.gif"
    )


def test_webhook_signature() -> None:
    # Receivers verify this header with their own code: its format is a published contract.
    assert signature_header("whsec-0123456789", 1772452800, b'{"guid":"X"}') == (
        "t=1772452800,v1=7de596493ece76dad963e4493e00da92da9feaa044d5e736b27c97247534e4ea"
    )
