"""Dispatch: claiming due messages under a lease, and applying verdicts."""

from __future__ import annotations

import threading
from datetime import timedelta

from clarion.core.model import Device, Profile, Status
from clarion.store import SqlStore
from clarion.store.records import LifecycleEntry, Transition
from tests.integration.store_support import LEASE, T0, decision, event, process

LATER = T0 + timedelta(hours=1)


def test_claims_due_messages_in_due_order_with_event_and_profile(store: SqlStore) -> None:
    phone = Device(id="d1", platform="ios", push_token="tok")
    store.upsert_profile(Profile(id="p1", email="a@example.com", devices=(phone,)), T0)
    source = event("e1", payload={"amount": "9.99"})
    soon = decision(source, due_at=T0 + timedelta(minutes=1))
    now_ = decision(source, step=1, due_at=T0)
    later = decision(source, step=2, due_at=LATER)
    suppressed = decision(source, step=3, status=Status.SUPPRESSED, reason="opted_out")
    process(store, source, soon, now_, later, suppressed)

    claimed = store.claim_due(10, T0 + timedelta(minutes=5), LEASE, "w1")

    assert [c.message.guid for c in claimed] == [now_.guid, soon.guid]
    first = claimed[0]
    assert (first.message.status, first.message.attempts) == (Status.SENDING, 1)
    assert first.event == source
    assert first.profile == Profile(id="p1", email="a@example.com", devices=(phone,))
    assert first.lease_owner == "w1"
    assert store.claim_due(10, T0 + timedelta(minutes=5), LEASE, "w2") == []


def test_a_message_of_an_unknown_profile_comes_with_a_bare_profile(store: SqlStore) -> None:
    source = event("e1", "ghost")
    process(store, source, decision(source))

    [claimed] = store.claim_due(10, T0, LEASE, "w1")

    assert claimed.profile == Profile(id="ghost")


def test_an_expired_sending_lease_is_claimed_again(store: SqlStore) -> None:
    source = event("e1")
    made = decision(source)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "crashed")

    assert store.claim_due(10, T0 + LEASE, LEASE, "w2") == []
    expired = T0 + LEASE + timedelta(seconds=1)
    [again] = store.claim_due(10, expired, LEASE, "w2")

    assert (again.message.attempts, again.lease_owner) == (2, "w2")
    assert [(e.status, e.reason) for e in store.timeline(made.guid)] == [
        (Status.SCHEDULED, None),
        (Status.SENDING, None),
        (Status.SENDING, "lease_expired"),
    ]
    # The crashed worker's verdict arrives too late; the live owner's counts.
    assert store.apply_transitions([Transition(made.guid, "crashed", Status.SENT)], expired) == 0
    assert store.apply_transitions([Transition(made.guid, "w2", Status.SENT)], expired) == 1


def test_claim_respects_the_limit_across_fresh_and_expired(store: SqlStore) -> None:
    source = event("e1")
    made = [decision(source, step=i, due_at=T0 + timedelta(seconds=i)) for i in range(5)]
    process(store, source, *made)
    store.claim_due(2, T0 + timedelta(seconds=10), LEASE, "crashed")

    expired = T0 + LEASE + timedelta(seconds=20)
    claimed = store.claim_due(3, expired, LEASE, "w2")

    assert [c.message.guid for c in claimed] == [m.guid for m in made[:3]]


def test_transitions_end_the_attempt_or_schedule_a_retry(store: SqlStore) -> None:
    source = event("e1")
    sent, retried = decision(source), decision(source, step=1)
    process(store, source, sent, retried)
    store.claim_due(10, T0, LEASE, "w1")
    at = T0 + timedelta(seconds=2)
    retry_at = T0 + timedelta(minutes=5)

    applied = store.apply_transitions(
        [
            Transition(
                sent.guid,
                "w1",
                Status.SENT,
                provider="fcm",
                provider_ref="m-1",
                detail={"latency_ms": 12},
            ),
            Transition(
                retried.guid,
                "w1",
                Status.SCHEDULED,
                reason="retrying",
                retry_at=retry_at,
                detail={"error": "503"},
            ),
            Transition(sent.guid, "w1", Status.FAILED),  # the lease already ended
        ],
        at,
    )

    assert applied == 2
    done = store.get_message(sent.guid)
    assert done is not None
    assert (done.status, done.provider, done.provider_ref, done.updated_at) == (
        Status.SENT,
        "fcm",
        "m-1",
        at,
    )
    assert store.timeline(sent.guid)[-1] == LifecycleEntry(
        sent.guid,
        at,
        Status.SENT,
        None,
        {"provider": "fcm", "provider_ref": "m-1", "latency_ms": 12},
    )
    again = store.get_message(retried.guid)
    assert again is not None
    assert (again.status, again.reason, again.due_at, again.attempts) == (
        Status.SCHEDULED,
        "retrying",
        retry_at,
        1,
    )
    assert store.claim_due(10, retry_at - timedelta(seconds=1), LEASE, "w2") == []
    [claimed] = store.claim_due(10, retry_at, LEASE, "w2")
    assert (claimed.message.guid, claimed.message.attempts) == (retried.guid, 2)


def test_transitions_need_the_live_lease(store: SqlStore) -> None:
    source = event("e1")
    made = decision(source)
    process(store, source, made)

    not_claimed = Transition(made.guid, "w1", Status.SENT)
    assert store.apply_transitions([not_claimed], T0) == 0
    store.claim_due(10, T0, LEASE, "w1")
    assert store.apply_transitions([Transition(made.guid, "intruder", Status.SENT)], T0) == 0
    stale_and_live = [
        Transition(made.guid, "intruder", Status.FAILED),
        Transition(made.guid, "w1", Status.SCHEDULED, retry_at=T0),
    ]
    assert store.apply_transitions(stale_and_live, T0) == 1
    assert [e.status for e in store.timeline(made.guid)][-2:] == [Status.SENDING, Status.SCHEDULED]
    store.claim_due(10, T0, LEASE, "w1")
    assert store.apply_transitions([Transition("0" * 40, "w1", Status.SENT)], T0) == 0
    assert store.apply_transitions([], T0) == 0

    current = store.get_message(made.guid)
    assert current is not None
    assert current.status is Status.SENDING


def test_the_timeline_shows_the_whole_life_of_a_message(store: SqlStore) -> None:
    source = event("e1")
    made = decision(source)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "w1")
    store.apply_transitions(
        [Transition(made.guid, "w1", Status.FAILED, reason="provider_rejected:400")], T0
    )

    assert [(e.status, e.reason) for e in store.timeline(made.guid)] == [
        (Status.SCHEDULED, None),
        (Status.SENDING, None),
        (Status.FAILED, "provider_rejected:400"),
    ]
    assert store.timeline("unknown") == []


def test_concurrent_dispatchers_never_share_a_message(store: SqlStore) -> None:
    source = event("e1")
    made = [decision(source, step=i) for i in range(400)]
    process(store, source, *made)
    start = threading.Barrier(4)
    taken: dict[str, list[str]] = {}

    def dispatcher(owner: str) -> None:
        mine = taken.setdefault(owner, [])
        start.wait()
        while batch := store.claim_due(9, T0, LEASE, owner):
            mine.extend(c.message.guid for c in batch)
            verdicts = [Transition(c.message.guid, owner, Status.SENT) for c in batch]
            assert store.apply_transitions(verdicts, T0) == len(batch)

    threads = [threading.Thread(target=dispatcher, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [guid for mine in taken.values() for guid in mine]
    assert sorted(everything) == sorted(m.guid for m in made)
    assert store.counts_by_status() == {"sent": 400}
