"""One definition of a message's fields: the record, and what is derived from it.

``MessageRecord`` (a message as stored) defines the fields; the store's columns
for it and the rows of new messages are derived from the dataclasses' fields, and
the API's ``MessageOut`` (the contract, stated on its own) must have the same.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from clarion.api.convert import message_out
from clarion.api.schemas import MessageOut
from clarion.core.decision import Decision
from clarion.core.model import Channel, Status
from clarion.store.records import MessageRecord
from clarion.store.schema import messages
from clarion.store.sql.convert import MESSAGE_COLUMNS, decision_row, message_of

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RECORD_FIELDS = [f.name for f in fields(MessageRecord)]


def test_the_store_reads_a_record_from_a_column_per_field() -> None:
    assert [c.name for c in MESSAGE_COLUMNS] == RECORD_FIELDS
    assert all(c.table is messages for c in MESSAGE_COLUMNS)


def test_the_api_message_has_the_record_fields() -> None:
    assert list(MessageOut.model_fields) == RECORD_FIELDS


def test_a_record_reads_back_and_renders_field_by_field() -> None:
    row = (
        "g1",
        "e1",
        "p1",
        "payment_failed",
        7,
        "account",
        "sms",
        1,
        "sent",
        None,
        NOW.timestamp(),
        NOW.timestamp() + 1,
        NOW.timestamp() + 2,
        None,
        2,
        ["d1", "d2"],
        "twilio",
        "SM1",
        3,
        1,
    )
    record = message_of(row)
    assert record == MessageRecord(
        guid="g1",
        event_id="e1",
        profile_id="p1",
        message="payment_failed",
        message_id=7,
        category="account",
        channel=Channel.SMS,
        step=1,
        status=Status.SENT,
        reason=None,
        created_at=NOW,
        updated_at=datetime.fromtimestamp(NOW.timestamp() + 1, UTC),
        due_at=datetime.fromtimestamp(NOW.timestamp() + 2, UTC),
        expires_at=None,
        attempts=2,
        devices=("d1", "d2"),
        provider="twilio",
        provider_ref="SM1",
        ab_test_id=3,
        ab_test_cell=1,
    )
    out = message_out(record).model_dump()
    assert out == {
        **{name: getattr(record, name) for name in RECORD_FIELDS},
        "devices": ["d1", "d2"],
    }


def test_a_decision_row_fills_every_column_it_names() -> None:
    decision = Decision(
        guid="g1",
        event_id="e1",
        profile_id="p1",
        message="payment_failed",
        message_id=7,
        category="account",
        channel=Channel.PUSH,
        step=0,
        status=Status.SCHEDULED,
        reason=None,
        created_at=NOW,
        due_at=NOW,
        dedup_key="k",
        cancel_on=("payment.succeeded",),
        devices=("d1",),
        country="PT",
        ab_test_id=3,
        ab_test_cell=0,
        ladder="g1",
        rung=0,
        escalated_from=None,
        confirm_by=NOW,
        holdout=0.1,
    )
    row = decision_row(decision, now=NOW.timestamp() + 5)
    assert row == {
        "guid": "g1",
        "event_id": "e1",
        "profile_id": "p1",
        "message": "payment_failed",
        "message_id": 7,
        "category": "account",
        "channel": "push",
        "step": 0,
        "status": "scheduled",
        "reason": None,
        "created_at": NOW.timestamp(),
        "updated_at": NOW.timestamp() + 5,
        "due_at": NOW.timestamp(),
        "expires_at": None,
        "attempts": 0,
        "devices": ["d1"],
        "dedup_key": "k",
        "cancel_on": ["payment.succeeded"],
        "country": "PT",
        "ladder": "g1",
        "rung": 0,
        "confirm_by": NOW.timestamp(),
        "ab_test_id": 3,
        "ab_test_cell": 0,
    }
    assert set(row) <= set(messages.c.keys())
