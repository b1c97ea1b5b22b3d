"""Orchestration: storing outcomes under the event's lease, cancellations, history."""

from __future__ import annotations

from datetime import timedelta

from clarion.core.decision import Outcome
from clarion.core.model import Channel, PastMessage, Status
from clarion.core.partitions import PARTITIONS
from clarion.store import SqlStore
from clarion.store.records import LifecycleEntry, Transition
from tests.integration.store_support import (
    LEASE,
    T0,
    cancel,
    decision,
    event,
    process,
    profile_in,
    share_partitions,
)


def test_outcome_creates_messages_with_a_first_lifecycle_entry(store: SqlStore) -> None:
    source = event("e1")
    later = T0 + timedelta(hours=2)
    push = decision(source, due_at=later, devices=("d1", "d2"), expires_at=T0 + timedelta(days=1))
    email = decision(
        source, step=1, channel=Channel.EMAIL, status=Status.SUPPRESSED, reason="opted_out"
    )

    assert process(store, source, push, email, now=T0 + timedelta(seconds=1)) == 2

    stored = store.get_message(push.guid)
    assert stored is not None
    assert (stored.status, stored.due_at, stored.devices) == (Status.SCHEDULED, later, ("d1", "d2"))
    assert (stored.created_at, stored.updated_at) == (T0, T0 + timedelta(seconds=1))
    assert (stored.message, stored.message_id, stored.category) == ("payment_failed", 7, "account")
    assert stored.expires_at == T0 + timedelta(days=1)
    assert stored.attempts == 0
    assert store.timeline(push.guid) == [
        LifecycleEntry(
            push.guid,
            T0,
            Status.SCHEDULED,
            None,
            {
                "event_id": "e1",
                "due_at": later.isoformat(),
                "expires_at": (T0 + timedelta(days=1)).isoformat(),
                "devices": ["d1", "d2"],
            },
        )
    ]
    assert store.timeline(email.guid) == [
        LifecycleEntry(email.guid, T0, Status.SUPPRESSED, "opted_out", {"event_id": "e1"})
    ]


def test_applying_the_same_outcome_twice_inserts_once(store: SqlStore) -> None:
    first, second = event("e1"), event("e2")
    made = decision(first)
    store.accept_events([first, second], T0)
    store.hold_partitions("w1", T0, LEASE)
    store.claim_events(10, T0, LEASE, "w1")
    outcome = Outcome((made,))

    # The same decision reached twice in one batch, and again from another event.
    assert (
        store.apply_outcomes([(first, outcome), (first, outcome), (second, outcome)], "w1", T0) == 1
    )
    assert store.apply_outcomes([(first, outcome)], "w1", T0) == 0  # already done

    assert len(store.timeline(made.guid)) == 1
    assert store.claim_events(10, T0 + timedelta(days=1), LEASE, "w1") == []


def test_outcomes_of_a_lost_lease_are_skipped(store: SqlStore) -> None:
    source = event("e1")
    store.accept_events([source], T0)
    store.hold_partitions("slow", T0, LEASE)
    store.claim_events(10, T0, LEASE, "slow")
    later = T0 + LEASE + timedelta(seconds=1)
    store.hold_partitions("fast", later, LEASE)  # "slow" stopped renewing: "fast" takes over
    store.claim_events(10, later, LEASE, "fast")

    assert store.apply_outcomes([(source, Outcome((decision(source),)))], "slow", later) == 0
    assert store.get_message(decision(source).guid) is None

    replacement = decision(source, message="other")
    assert store.apply_outcomes([(source, Outcome((replacement,)))], "fast", later) == 1
    assert store.get_message(replacement.guid) is not None


def test_only_events_of_partitions_still_owned_are_applied_in_a_mixed_batch(
    store: SqlStore,
) -> None:
    kept = event("kept", profile_in(lambda p: p < PARTITIONS // 2))
    moved = event("moved", profile_in(lambda p: p >= PARTITIONS // 2))
    store.accept_events([kept, moved], T0)
    store.hold_partitions("w1", T0, LEASE)
    store.claim_events(10, T0, LEASE, "w1")  # w1 alone: it holds and claims both
    share_partitions(store, ["w1", "w2"])  # w2 joins: w1 gives the upper half to w2

    count = store.apply_outcomes(
        [(kept, Outcome((decision(kept),))), (moved, Outcome((decision(moved),)))], "w1", T0
    )

    assert count == 1
    assert store.get_message(decision(kept).guid) is not None
    assert store.get_message(decision(moved).guid) is None
    assert [e.id for e in store.claim_events(10, T0, LEASE, "w2")] == ["moved"]


def test_a_stalled_owner_s_outcomes_are_void_once_its_partition_moved(store: SqlStore) -> None:
    source = event("e1")
    store.accept_events([source], T0)
    store.hold_partitions("stalled", T0, LEASE)
    store.claim_events(10, T0, LEASE * 10, "stalled")  # its event lease outlives the partition's
    later = T0 + LEASE + timedelta(seconds=1)
    store.hold_partitions("next", later, LEASE)  # takes the partitions over; claims nothing yet

    assert store.apply_outcomes([(source, Outcome((decision(source),)))], "stalled", later) == 0
    assert store.get_message(decision(source).guid) is None
    assert [e.id for e in store.claim_events(10, later, LEASE, "next")] == ["e1"]


def test_cancellation_affects_only_scheduled_messages(store: SqlStore) -> None:
    source = event("e1")
    pending = decision(source, due_at=T0 + timedelta(hours=1), cancel_on=("payment.fixed",))
    suppressed = decision(source, step=1, status=Status.SUPPRESSED, reason="opted_out")
    sent = decision(source, step=2, due_at=T0)
    process(store, source, pending, suppressed, sent)
    [claimed] = store.claim_due(10, T0, LEASE, "d")
    store.apply_transitions([Transition(claimed.message.guid, "d", Status.SENT)], T0)

    fix = event("e2", kind="payment.fixed")
    later = T0 + timedelta(minutes=1)
    cancels = tuple(cancel(d, fix) for d in (pending, suppressed, sent, pending))
    process(store, fix, cancellations=cancels, now=later)

    found = {d.guid: store.get_message(d.guid) for d in (pending, suppressed, sent)}
    assert {guid: (m.status, m.reason) for guid, m in found.items() if m} == {
        pending.guid: (Status.CANCELLED, "cancelled:payment.fixed"),
        suppressed.guid: (Status.SUPPRESSED, "opted_out"),
        sent.guid: (Status.SENT, None),
    }
    assert store.timeline(pending.guid)[-1] == LifecycleEntry(
        pending.guid, later, Status.CANCELLED, "cancelled:payment.fixed", {"event_id": "e2"}
    )
    assert len(store.timeline(pending.guid)) == 2
    assert len(store.timeline(suppressed.guid)) == 1
    assert store.timeline(sent.guid)[-1].status is Status.SENT


def test_history_has_recent_messages_and_every_pending_one(store: SqlStore) -> None:
    old, new = event("old"), event("new")
    old_pending = decision(
        old,
        created_at=T0 - timedelta(days=30),
        cancel_on=("a", "b"),
        dedup_key="payment_failed:inv-1",
    )
    old_suppressed = decision(
        old,
        step=1,
        status=Status.SUPPRESSED,
        reason="duplicate",
        created_at=T0 - timedelta(days=30),
    )
    recent = decision(new, channel=Channel.EMAIL, status=Status.SUPPRESSED, reason="no_address")
    process(store, old, old_pending, old_suppressed)
    process(store, new, recent)
    process(store, event("other", "p2"), decision(event("other", "p2")))

    found = store.history(["p1", "p3"], T0 - timedelta(days=1))

    assert found == {
        "p1": [
            PastMessage(
                old_pending.guid,
                "payment_failed",
                Channel.PUSH,
                Status.SCHEDULED,
                T0 - timedelta(days=30),
                "payment_failed:inv-1",
                ("a", "b"),
                "old",
                due_at=T0,
            ),
            PastMessage(
                recent.guid, "payment_failed", Channel.EMAIL, Status.SUPPRESSED, T0, event_id="new"
            ),
        ],
        "p3": [],
    }
    assert len(store.history(["p1"], T0 - timedelta(days=31))["p1"]) == 3


def test_history_has_messages_due_recently_however_long_ago_they_were_decided(
    store: SqlStore,
) -> None:
    # Decided two days ago with a delay, sent an hour ago: caps count it now.
    source = event("delayed")
    created, due = T0 - timedelta(days=2), T0 - timedelta(hours=1)
    delayed = decision(source, created_at=created, due_at=due)
    process(store, source, delayed, now=created)
    sent = Transition(delayed.guid, "w1", Status.SENT, provider="sink")
    store.claim_due(10, due, LEASE, "w1")
    assert store.apply_transitions([sent], due) == 1

    [found] = store.history(["p1"], T0 - timedelta(days=1))["p1"]

    assert (found.guid, found.status, found.created_at, found.due_at) == (
        delayed.guid,
        Status.SENT,
        created,
        due,
    )
