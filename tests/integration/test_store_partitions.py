"""Partition leases: fair shares among live workers, renewal, takeover after expiry,
hand-over on a clean stop, and no partition held by two workers at once."""

from __future__ import annotations

import threading
from datetime import timedelta

from clarion.core.partitions import PARTITIONS
from clarion.store import SqlStore
from tests.integration.store_support import LEASE, T0, share_partitions


def test_the_first_worker_takes_every_partition_and_a_second_gets_half(store: SqlStore) -> None:
    first = store.hold_partitions("w1", T0, LEASE)
    assert (len(first.held), len(first.taken), first.workers) == (PARTITIONS, PARTITIONS, 1)

    # w2 joins: nothing is free yet, until w1 renews and gives back its surplus.
    assert store.hold_partitions("w2", T0, LEASE).held == frozenset()
    w1 = store.hold_partitions("w1", T0 + timedelta(seconds=1), LEASE)
    assert (len(w1.held), len(w1.released), w1.workers) == (PARTITIONS // 2, PARTITIONS // 2, 2)
    w2 = store.hold_partitions("w2", T0 + timedelta(seconds=1), LEASE)
    assert w2.taken == w1.released and w2.held == w1.released
    assert w1.held | w2.held == frozenset(range(PARTITIONS))


def test_a_dead_worker_s_partitions_are_taken_after_its_lease(store: SqlStore) -> None:
    share_partitions(store, ["w1", "w2"])
    now = T0 + LEASE  # w2 renews; w1 does not (it died)
    assert len(store.hold_partitions("w2", now, LEASE).held) == PARTITIONS // 2

    later = T0 + LEASE + timedelta(seconds=1)
    w2 = store.hold_partitions("w2", later, LEASE)
    assert (len(w2.held), len(w2.taken), w2.workers) == (PARTITIONS, PARTITIONS // 2, 1)


def test_a_stopping_worker_hands_its_partitions_over_at_once(store: SqlStore) -> None:
    share_partitions(store, ["w1", "w2"])
    store.release_partitions("w1")

    assert len(store.hold_partitions("w2", T0, LEASE).held) == PARTITIONS


def test_workers_renewing_at_once_never_hold_one_partition_together(store: SqlStore) -> None:
    owners = [f"w{n}" for n in range(4)]
    start = threading.Barrier(len(owners))
    last: dict[str, frozenset[int]] = {}
    failures: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            start.wait()
            for step in range(6):
                last[owner] = store.hold_partitions(owner, T0 + timedelta(seconds=step), LEASE).held
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    held = [p for owner in owners for p in last[owner]]
    assert len(held) == len(set(held))  # disjoint
    # One more round settles everyone on the fair share of four: 16 each.
    for owner in owners:
        last[owner] = store.hold_partitions(owner, T0 + timedelta(seconds=7), LEASE).held
    for owner in owners:
        last[owner] = store.hold_partitions(owner, T0 + timedelta(seconds=8), LEASE).held
    assert sorted(len(parts) for parts in last.values()) == [16, 16, 16, 16]
    assert frozenset().union(*last.values()) == frozenset(range(PARTITIONS))
