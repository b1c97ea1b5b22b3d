"""Delivery reports that arrive before the message's provider reference is stored
(SQLite and PostgreSQL): held, then applied when the dispatcher stores the reference."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from clarion.core.delivery import BadAddress, DeliveryReport
from clarion.core.model import Channel, Profile, Status
from clarion.store import SqlStore
from clarion.store.records import Transition
from clarion.store.schema import early_reports
from tests.integration.store_support import LEASE, T0, decision, event, process

REF = "SM" + "e" * 32
EARLY = T0 + timedelta(seconds=1)
STORED = T0 + timedelta(seconds=2)
PHONE = "+5511912345678"


def claimed_sms(store: SqlStore, ref: str = REF) -> str:
    """A message claimed for sending (its reference not stored yet); its guid."""
    store.upsert_profile(Profile(id="p1", phone=PHONE), T0)
    source = event(f"e-{ref}", "p1")
    made = decision(source, channel=Channel.SMS)
    process(store, source, made)
    assert len(store.claim_due(10, T0, LEASE, "w1")) == 1
    return made.guid


def store_ref(store: SqlStore, guid: str, ref: str = REF) -> None:
    sent = Transition(guid, "w1", Status.SENT, None, None, "twilio", ref)
    assert store.apply_transitions([sent], STORED) == 1


def held_count(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(early_reports)).scalar_one())


def history(store: SqlStore, guid: str) -> list[tuple[Status, str | None]]:
    return [(e.status, e.reason) for e in store.timeline(guid)][3:]  # after scheduled/sending/sent


def test_a_report_before_the_reference_is_applied_when_it_is_stored(store: SqlStore) -> None:
    guid = claimed_sms(store)
    delivered = DeliveryReport(REF, Status.DELIVERED, None, {"provider_status": "delivered"})
    assert store.apply_delivery_report(delivered, EARLY) is None
    assert held_count(store) == 1

    store_ref(store, guid)

    message = store.get_message(guid)
    assert message is not None
    assert (message.status, message.provider_ref) == (Status.DELIVERED, REF)
    assert history(store, guid) == [(Status.DELIVERED, None)]
    detail = store.timeline(guid)[-1].detail
    assert detail["provider_status"] == "delivered"
    assert detail["received_at"] == EARLY.timestamp()
    assert held_count(store) == 0


def test_order_does_not_matter_and_repeats_are_idempotent(store: SqlStore) -> None:
    guid = claimed_sms(store)
    delivered = DeliveryReport(REF, Status.DELIVERED)
    sent = DeliveryReport(REF, Status.SENT, "provider_status:twilio:sent")
    for report in (delivered, delivered, sent, sent):  # delivered arrives first, twice
        assert store.apply_delivery_report(report, EARLY) is None
    assert held_count(store) == 2

    store_ref(store, guid)

    message = store.get_message(guid)
    assert message is not None and message.status is Status.DELIVERED
    assert history(store, guid) == [(Status.DELIVERED, None)]  # the later "sent" is too late
    # A repeat after the reference is stored goes the normal way and changes nothing.
    again = store.apply_delivery_report(delivered, STORED)
    assert again is not None and (again.status, again.applied) == (Status.DELIVERED, False)
    assert held_count(store) == 0


def test_an_early_failure_with_a_bad_number_marks_the_address(store: SqlStore) -> None:
    guid = claimed_sms(store)
    bad = BadAddress("phone", PHONE, "twilio:21211")
    reason = "provider_rejected:twilio:21211"
    report = DeliveryReport(REF, Status.FAILED, reason, {"error_code": "twilio:21211"}, bad)
    assert store.apply_delivery_report(report, EARLY) is None

    store_ref(store, guid)

    message = store.get_message(guid)
    assert message is not None and (message.status, message.reason) == (Status.FAILED, reason)
    profile = store.get_profile("p1")
    assert profile is not None and [a.value for a in profile.address_limits] == [PHONE]


def test_an_early_temporary_limit_keeps_its_expiry(store: SqlStore) -> None:
    # A handset that was off (30003) blocks SMS for a while only, even when its
    # report overtook the dispatcher and was held first.
    guid = claimed_sms(store)
    bad = BadAddress("sms", PHONE, "twilio:30003", timedelta(hours=12))
    report = DeliveryReport(REF, Status.FAILED, "provider_rejected:twilio:30003", {}, bad)
    assert store.apply_delivery_report(report, EARLY) is None

    store_ref(store, guid)

    profile = store.get_profile("p1")
    assert profile is not None
    [limit] = profile.address_limits
    assert limit.channels == frozenset({Channel.SMS})
    assert limit.until is not None and limit.until - EARLY <= timedelta(hours=12, minutes=1)
    assert limit.until - EARLY >= timedelta(hours=12)


def test_normal_order_is_unchanged_and_holds_nothing(store: SqlStore) -> None:
    guid = claimed_sms(store)
    store_ref(store, guid)
    sent = DeliveryReport(REF, Status.SENT, "provider_status:twilio:sent")
    applied = store.apply_delivery_report(sent, STORED)
    assert applied is not None and applied.applied
    applied = store.apply_delivery_report(DeliveryReport(REF, Status.DELIVERED), STORED)
    assert applied is not None and (applied.status, applied.applied) == (Status.DELIVERED, True)
    assert history(store, guid) == [
        (Status.SENT, "provider_status:twilio:sent"),
        (Status.DELIVERED, None),
    ]
    assert held_count(store) == 0


def test_unmatched_reports_are_purged_after_a_day(store: SqlStore) -> None:
    assert store.apply_delivery_report(DeliveryReport("SMold", Status.DELIVERED), EARLY) is None
    later = EARLY + timedelta(days=1, seconds=1)
    assert store.apply_delivery_report(DeliveryReport("SMnew", Status.DELIVERED), later) is None
    with store.engine.connect() as conn:
        refs = conn.execute(sa.select(early_reports.c.provider_ref)).scalars().all()
    assert refs == ["SMnew"]


def test_a_report_racing_the_stored_reference_is_never_lost(store: SqlStore) -> None:
    """The report and the transaction storing its reference run at the same time:
    whichever commits first, the message ends delivered."""
    refs = [f"SM{i:032d}" for i in range(6)]
    guids: list[str] = []
    store.upsert_profile(Profile(id="p1", phone=PHONE), T0)
    for ref in refs:
        source = event(f"e-{ref}", "p1")
        made = decision(source, channel=Channel.SMS)
        process(store, source, made)
        guids.append(made.guid)
    assert len(store.claim_due(10, T0, LEASE, "w1")) == len(refs)
    errors: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for guid, ref in zip(guids, refs, strict=True):
        sent = Transition(guid, "w1", Status.SENT, None, None, "twilio", ref)
        report = DeliveryReport(ref, Status.DELIVERED)
        threads = [
            threading.Thread(
                target=run, args=(lambda s=sent: store.apply_transitions([s], STORED),)
            ),
            threading.Thread(
                target=run, args=(lambda r=report: store.apply_delivery_report(r, EARLY),)
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    statuses = [store.get_message(g).status for g in guids]  # type: ignore[union-attr]
    assert statuses == [Status.DELIVERED] * len(refs)
    assert held_count(store) == 0
