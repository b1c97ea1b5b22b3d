"""Partitions of profiles: a stable hash, keys that keep an account together, fair shares."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from clarion.core.partitions import PARTITIONS, fair_share, partition_key, partition_of


def test_the_partition_of_a_key_never_changes() -> None:
    # Golden values: every intake process, on every machine and Python version,
    # must put a profile's events in the same partition as the events stored before.
    assert [partition_of(partition_key(p, None)) for p in ("ana", "bob", "p1")] == [9, 37, 39]
    assert partition_of(partition_key("anyone", "acct-1")) == 6


def test_an_account_keeps_all_its_profiles_in_one_partition() -> None:
    assert partition_key("ana", "acct-1") == partition_key("bob", "acct-1")
    assert partition_key("ana", None) != partition_key("ana", "acct-1")
    assert partition_key("ana", "") == partition_key("ana", None)
    # An account and a profile that share an id are different keys.
    assert partition_key("x", None) != partition_key("y", "x")


def test_profiles_spread_evenly_over_the_partitions() -> None:
    counts = Counter(partition_of(partition_key(f"p{n}", None)) for n in range(64_000))
    assert set(counts) == set(range(PARTITIONS))
    # 1,000 each on average; binomial spread is about 31, so 15% is about five sigma.
    assert max(counts.values()) < 1.15 * 1000 and min(counts.values()) > 0.85 * 1000


@given(st.sets(st.text(min_size=1, max_size=8), min_size=1, max_size=70))
def test_fair_shares_add_up_to_every_partition_and_differ_by_at_most_one(
    workers: set[str],
) -> None:
    shares = [fair_share(w, workers) for w in workers]
    assert sum(shares) == PARTITIONS
    assert max(shares) - min(shares) <= 1


def test_a_worker_not_yet_seen_counts_itself() -> None:
    assert fair_share("new", ["old"]) == PARTITIONS // 2
    assert fair_share("alone", []) == PARTITIONS
