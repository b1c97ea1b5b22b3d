"""Partition leases: fair shares among live workers, renewal, takeover after expiry,
hand-over on a clean stop, no partition held by two workers at once, and what a
worker logs and counts when partitions change hands."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from clarion.core.partitions import PARTITIONS
from clarion.observability import REGISTRY
from clarion.runtime.partitions import PartitionLease
from clarion.store import SqlStore
from clarion.store.sql import partitions
from tests.integration.pipeline_support import FakeClock
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


def test_a_takeover_waits_for_an_owner_s_commit_in_flight(store: SqlStore) -> None:
    if store.dialect != "postgresql":
        pytest.skip("on SQLite the one writer lock orders a commit and a takeover")
    store.hold_partitions("slow", T0, LEASE)
    later = T0 + LEASE + timedelta(seconds=1)  # "slow" has stopped renewing
    with store.engine.begin() as conn:
        # "slow" is storing a batch: the fence holds its lease rows until it commits.
        assert len(partitions.fence(conn, "slow")) == PARTITIONS
        # A takeover meanwhile skips them rather than taking them under the write.
        assert store.hold_partitions("next", later, LEASE).held == frozenset()
    assert len(store.hold_partitions("next", later, LEASE).held) == PARTITIONS


def test_the_lease_keeper_logs_counts_and_notices_partitions_lost(store: SqlStore) -> None:
    clock = FakeClock(T0)
    first = PartitionLease(store, clock, "w1", LEASE)
    taken = REGISTRY.get_sample_value("clarion_partition_rebalances_total", {"change": "taken"})
    lost = REGISTRY.get_sample_value("clarion_partition_rebalances_total", {"change": "lost"})

    first.refresh()
    assert len(first.held) == PARTITIONS
    assert REGISTRY.get_sample_value("clarion_partitions_held") == PARTITIONS
    after = REGISTRY.get_sample_value("clarion_partition_rebalances_total", {"change": "taken"})
    assert after == (taken or 0.0) + PARTITIONS

    # w1 stalls past its lease; w2 takes everything over; w1 notices on its next renewal.
    clock.advance(LEASE + timedelta(seconds=1))
    store.hold_partitions("w2", clock(), LEASE)
    first.refresh()
    assert first.held == frozenset()
    now_lost = REGISTRY.get_sample_value("clarion_partition_rebalances_total", {"change": "lost"})
    assert now_lost == (lost or 0.0) + PARTITIONS
    assert REGISTRY.get_sample_value("clarion_partitions_held") == 0

    # A clean stop of w2 hands everything back at once, and leaves the live workers:
    # w3 takes its share next to w1 (which is live again) without waiting.
    second = PartitionLease(store, clock, "w2", LEASE)
    second.refresh()
    second.release()
    w3 = store.hold_partitions("w3", clock(), LEASE)
    assert (len(w3.taken), w3.workers) == (PARTITIONS // 2, 2)


def test_the_partitions_of_a_worker_known_gone_are_taken_before_its_lease_ends(
    store: SqlStore,
) -> None:
    share_partitions(store, ["w1", "w2"])

    w2 = store.hold_partitions("w2", T0 + timedelta(seconds=1), LEASE, gone=["w1"])

    assert (len(w2.held), len(w2.taken), w2.workers, w2.peers) == (
        PARTITIONS,
        PARTITIONS // 2,
        1,
        ("w2",),
    )


def test_a_worker_notices_a_dead_process_of_its_host_and_takes_its_share_at_once(
    store: SqlStore,
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process (until the system reuses it)
    predecessor = f"{socket.gethostname()}:{dead.pid}:0000"
    share_partitions(store, [predecessor, "w2"])
    clock = FakeClock(T0)
    keeper = PartitionLease(store, clock, "w2", LEASE)

    keeper.refresh()  # sees its peers: one is a dead process of this host
    keeper.refresh()  # due at once: takes the dead one's share

    assert len(keeper.held) == PARTITIONS
