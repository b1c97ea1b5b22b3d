"""Delivery reports and bad addresses in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

from clarion.core.delivery import BadAddress, DeliveryReport
from clarion.core.model import PHONE_CHANNELS, AddressLimit, Channel, Profile, Status
from clarion.store import SqlStore
from clarion.store.records import ReportApplied, Transition
from tests.integration.store_support import LEASE, T0, decision, event, process

REF = "SM" + "f" * 32
LATER = T0 + timedelta(minutes=1)


def sent_sms(store: SqlStore, ref: str = REF, profile_id: str = "p1") -> str:
    """A message the provider accepted with reference ``ref``; its guid."""
    store.upsert_profile(Profile(id=profile_id, phone="+5511912345678"), T0)
    source = event(f"e-{ref}", profile_id)
    made = decision(source, channel=Channel.SMS)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "w1")
    applied = store.apply_transitions(
        [Transition(made.guid, "w1", Status.SENT, None, None, "twilio", ref)], T0
    )
    assert applied == 1
    return made.guid


def history(store: SqlStore, guid: str) -> list[tuple[Status, str | None]]:
    return [(e.status, e.reason) for e in store.timeline(guid)][3:]  # after scheduled/sending/sent


def test_delivered_then_late_reports_change_nothing(store: SqlStore) -> None:
    guid = sent_sms(store)
    queued = DeliveryReport(REF, Status.SENT, "provider_status:twilio:queued")
    delivered = DeliveryReport(REF, Status.DELIVERED, None, {"provider_status": "delivered"})
    failed = DeliveryReport(REF, Status.FAILED, "provider_rejected:twilio:30007")

    assert store.apply_delivery_report(queued, LATER) == ReportApplied(guid, Status.SENT, True)
    assert store.apply_delivery_report(queued, LATER) == ReportApplied(guid, Status.SENT, False)
    assert store.apply_delivery_report(delivered, LATER) == ReportApplied(
        guid, Status.DELIVERED, True
    )
    assert store.apply_delivery_report(delivered, LATER) == ReportApplied(
        guid, Status.DELIVERED, False
    )
    late_sent = DeliveryReport(REF, Status.SENT, "provider_status:twilio:sent")
    assert store.apply_delivery_report(late_sent, LATER).applied is False  # type: ignore[union-attr]
    assert store.apply_delivery_report(failed, LATER).applied is False  # type: ignore[union-attr]

    message = store.get_message(guid)
    assert message is not None
    assert (message.status, message.reason, message.provider_ref) == (
        Status.DELIVERED,
        None,
        REF,
    )
    assert history(store, guid) == [
        (Status.SENT, "provider_status:twilio:queued"),
        (Status.DELIVERED, None),
    ]
    assert store.timeline(guid)[-1].detail == {"provider_status": "delivered"}


def test_a_failure_with_a_bad_number_marks_the_address(store: SqlStore) -> None:
    guid = sent_sms(store)
    bad = BadAddress("phone", "+5511912345678", "twilio:30005")
    report = DeliveryReport(REF, Status.FAILED, "provider_rejected:twilio:30005", {}, bad)

    assert store.apply_delivery_report(report, LATER) == ReportApplied(guid, Status.FAILED, True)

    message = store.get_message(guid)
    assert message is not None
    assert (message.status, message.reason) == (Status.FAILED, "provider_rejected:twilio:30005")
    profile = store.get_profile("p1")
    assert profile is not None
    assert profile.address_limits == (AddressLimit("+5511912345678", PHONE_CHANNELS),)
    assert profile.address_for(Channel.SMS, LATER) is None
    assert profile.address_for(Channel.VOICE, LATER) is None
    # A new number is usable again: the old entry no longer matches.
    store.upsert_profile(Profile(id="p1", phone="+5511988887777"), LATER)
    changed = store.get_profile("p1")
    assert changed is not None and changed.address_for(Channel.SMS, LATER) == "+5511988887777"


def test_an_unknown_reference_is_none(store: SqlStore) -> None:
    report = DeliveryReport("SMnope", Status.DELIVERED)
    assert store.apply_delivery_report(report, LATER) is None


def test_concurrent_repeats_are_logged_once(store: SqlStore) -> None:
    guid = sent_sms(store)
    report = DeliveryReport(REF, Status.DELIVERED)
    results: list[bool] = []

    def apply() -> None:
        outcome = store.apply_delivery_report(report, LATER)
        assert outcome is not None
        results.append(outcome.applied)

    threads = [threading.Thread(target=apply) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]
    assert history(store, guid) == [(Status.DELIVERED, None)]


def test_a_failed_send_with_a_bad_address_records_it_with_the_verdict(store: SqlStore) -> None:
    store.upsert_profile(Profile(id="p2", phone="+1555"), T0)
    source = event("e2", "p2")
    made = decision(source, channel=Channel.SMS)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "w1")
    bad = BadAddress("phone", "+1555", "twilio:21211")
    verdict = Transition(
        made.guid, "w1", Status.FAILED, "provider_rejected:twilio:21211", bad_address=bad
    )
    stale = Transition(made.guid, "someone-else", Status.FAILED, "x", bad_address=bad)

    assert store.apply_transitions([stale], T0) == 0
    profile = store.get_profile("p2")
    assert profile is not None and profile.address_limits == ()  # lease not held
    assert store.apply_transitions([verdict], T0) == 1
    profile = store.get_profile("p2")
    assert profile is not None and [a.value for a in profile.address_limits] == ["+1555"]
    store.record_bad_address("p2", bad, LATER)  # again: still one entry
    again = store.get_profile("p2")
    assert again is not None and [a.value for a in again.address_limits] == ["+1555"]
