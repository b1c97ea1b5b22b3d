"""Store operations behind "feedback acts once" and "a dismissal ends", on both stores:
receipts taken once under concurrency and forgotten when expired, suppressions
ended once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from clarion.store.records import FeedbackReceipt, Suppression
from clarion.store.sql import SqlStore
from clarion.store.sql.convert import ts
from clarion.store.sql.inapp_writes import suppress

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_a_receipt_is_taken_once_by_threads_racing_for_it(store: SqlStore) -> None:
    receipt = FeedbackReceipt("R1_R:impression", T0 + timedelta(days=1))
    start = threading.Barrier(6)
    taken: list[bool] = []

    def take() -> None:
        start.wait()
        taken.append(store.take_feedback_receipt("G" * 40, receipt, T0))

    threads = [threading.Thread(target=take) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [False] * 5 + [True]


def test_expired_receipts_are_forgotten_and_live_ones_kept(store: SqlStore) -> None:
    old = FeedbackReceipt("R1_R:impression", T0 + timedelta(hours=1))
    live = FeedbackReceipt("R2_R:impression", T0 + timedelta(days=1))
    assert store.take_feedback_receipt("G" * 40, old, T0)
    assert store.take_feedback_receipt("G" * 40, live, T0)
    assert store.inapp_upkeep_due(T0 + timedelta(hours=2))
    assert store.purge_feedback_receipts(T0 + timedelta(hours=2), limit=100) == 1
    assert store.purge_feedback_receipts(T0 + timedelta(hours=2), limit=100) == 0
    assert not store.take_feedback_receipt("G" * 40, live, T0)  # still remembered
    assert store.take_feedback_receipt("G" * 40, old, T0)  # forgotten


def test_a_suppression_ends_once_when_its_time_has_passed(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        for message, hours in (("a", 1), ("b", 3)):
            rule = Suppression(message, T0 + timedelta(hours=hours), "dismiss")
            suppress(conn, "ana", rule, ts(T0))
    assert not store.inapp_upkeep_due(T0 + timedelta(minutes=59))
    assert store.end_suppressions(T0 + timedelta(minutes=59), limit=100) == 0
    assert store.inapp_upkeep_due(T0 + timedelta(hours=2))
    assert store.end_suppressions(T0 + timedelta(hours=2), limit=100) == 1
    assert store.end_suppressions(T0 + timedelta(hours=2), limit=100) == 0
    assert not store.inapp_upkeep_due(T0 + timedelta(hours=2))
    assert store.end_suppressions(T0 + timedelta(hours=4), limit=100) == 1
