"""Intake: idempotent acceptance, and claiming events under a lease."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from clarion.core.decision import Outcome
from clarion.core.model import Profile
from clarion.core.partitions import PARTITIONS, partition_key, partition_of
from clarion.store import SqlStore
from clarion.store.schema import partition_leases
from clarion.store.sql.convert import ts
from tests.integration.store_support import LEASE, T0, event, profile_in, share_partitions


def test_accept_records_events_and_answers_repeats_as_before(store: SqlStore) -> None:
    first = store.accept_events([event("e1"), event("e2")], T0)
    later = T0 + timedelta(minutes=5)
    again = store.accept_events([event("e2"), event("e3"), event("e1")], later)

    assert [(a.event_id, a.received_at, a.duplicate) for a in first] == [
        ("e1", T0, False),
        ("e2", T0, False),
    ]
    assert [(a.event_id, a.received_at, a.duplicate) for a in again] == [
        ("e2", T0, True),
        ("e3", later, False),
        ("e1", T0, True),
    ]


def test_a_repeat_within_one_batch_is_a_duplicate_of_the_first(store: SqlStore) -> None:
    answers = store.accept_events([event("e1"), event("e1", payload={"other": 1})], T0)

    assert [a.duplicate for a in answers] == [False, True]
    assert {a.received_at for a in answers} == {T0}
    store.hold_partitions("w1", T0, LEASE)
    [claimed] = store.claim_events(10, T0, LEASE, "w1")
    assert claimed == event("e1")


def test_accept_takes_large_batches(store: SqlStore) -> None:
    batch = [event(f"e{i:04}", payload={"n": i, "tags": ["x"]}) for i in range(1500)]

    answers = store.accept_events(batch, T0)

    assert [a.event_id for a in answers] == [e.id for e in batch]
    assert not any(a.duplicate for a in answers)
    assert all(a.duplicate for a in store.accept_events(batch[::7], T0))
    assert store.accept_events([], T0) == []


def test_claims_oldest_first_in_intake_order_with_payloads(store: SqlStore) -> None:
    store.accept_events([event("b", payload={"amount": 9.5, "items": [1, 2]})], T0)
    store.accept_events([event("z"), event("a", account_id="acct")], T0)
    store.accept_events([event("old")], T0 - timedelta(seconds=1))
    store.hold_partitions("w1", T0, LEASE)

    claimed = store.claim_events(3, T0, LEASE, "w1")

    assert [e.id for e in claimed] == ["old", "b", "z"]
    assert claimed[1] == event("b", payload={"amount": 9.5, "items": [1, 2]})
    assert store.claim_events(10, T0, LEASE, "w1") == [event("a", account_id="acct")]
    assert store.claim_events(10, T0, LEASE, "w1") == []


def test_an_expired_lease_is_claimed_again_and_a_live_one_is_not(store: SqlStore) -> None:
    store.accept_events([event("e1"), event("e2")], T0)
    store.hold_partitions("w1", T0, LEASE)
    assert len(store.claim_events(10, T0, LEASE, "w1")) == 2

    # w1's partitions are leased until T0 + LEASE: w2 gets none of them yet.
    assert store.hold_partitions("w2", T0 + LEASE, LEASE).held == frozenset()
    assert store.claim_events(10, T0 + LEASE, LEASE, "w2") == []
    later = T0 + LEASE + timedelta(seconds=1)
    assert len(store.hold_partitions("w2", later, LEASE).held) == PARTITIONS
    assert [e.id for e in store.claim_events(1, later, LEASE, "w2")] == ["e1"]
    assert [e.id for e in store.claim_events(5, later, LEASE, "w2")] == ["e2"]
    assert store.claim_events(5, later, LEASE, "w2") == []
    assert store.claim_events(5, later, LEASE, "w3") == []  # w3 holds no partition


def test_a_partition_s_events_move_with_it_before_their_own_lease_runs_out(
    store: SqlStore,
) -> None:
    store.accept_events([event("e1")], T0)
    store.hold_partitions("w1", T0, LEASE)
    store.claim_events(10, T0, LEASE * 10, "w1")  # a long event lease
    later = T0 + LEASE + timedelta(seconds=1)
    store.hold_partitions("w2", later, LEASE)  # w1 stopped renewing: w2 takes over

    assert [e.id for e in store.claim_events(10, later, LEASE, "w2")] == ["e1"]


def test_each_worker_claims_only_its_partitions_events(store: SqlStore) -> None:
    low, high = (
        profile_in(lambda p: p < PARTITIONS // 2),
        profile_in(lambda p: p >= PARTITIONS // 2),
    )
    store.accept_events([event("low", low), event("high", high)], T0)
    share_partitions(store, ["w1", "w2"])  # w1 keeps the lower half, w2 takes the upper

    assert [e.id for e in store.claim_events(10, T0, LEASE, "w1")] == ["low"]
    assert [e.id for e in store.claim_events(10, T0, LEASE, "w2")] == ["high"]


def test_an_event_of_an_account_goes_to_the_account_s_partition(store: SqlStore) -> None:
    store.upsert_profile(Profile(id="member", account_id="acct"), T0)
    account = partition_of(partition_key("p-other", "acct"))
    # Named on the event, or only stored on the profile: the same partition.
    store.accept_events([event("named", "p-other", account_id="acct"), event("own", "member")], T0)
    other = next(p for p in range(PARTITIONS) if p != account)
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(partition_leases),
            [
                {"partition": account, "owner": "w1", "lease_until": ts(T0 + LEASE)},
                {"partition": other, "owner": "w2", "lease_until": ts(T0 + LEASE)},
            ],
        )

    assert [e.id for e in store.claim_events(10, T0, LEASE, "w1")] == ["named", "own"]


def test_processed_events_are_never_claimed_again(store: SqlStore) -> None:
    store.accept_events([event("e1")], T0)
    store.hold_partitions("w1", T0, LEASE)
    [claimed] = store.claim_events(10, T0, LEASE, "w1")
    store.apply_outcomes([(claimed, Outcome())], "w1", T0)

    store.hold_partitions("w2", T0 + timedelta(days=1), LEASE)
    assert store.claim_events(10, T0 + timedelta(days=1), LEASE, "w2") == []
    assert store.accept_events([event("e1")], T0 + timedelta(days=1))[0].duplicate


def test_concurrent_claimers_never_share_an_event(store: SqlStore) -> None:
    ids = [f"e{i:04}" for i in range(600)]
    # Profiles of every partition, each worker holding a quarter of them.
    store.accept_events([event(i, f"p{i}") for i in ids], T0)
    start = threading.Barrier(4)
    taken: dict[str, list[str]] = {}
    share_partitions(store, [f"w{n}" for n in range(4)])

    def claimer(owner: str) -> None:
        mine = taken.setdefault(owner, [])
        start.wait()
        while batch := store.claim_events(7, T0, LEASE, owner):
            mine.extend(e.id for e in batch)

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [i for mine in taken.values() for i in mine]
    assert sorted(everything) == ids  # each event claimed exactly once
