"""One decider per profile on the real topologies (DESIGN §4, issue 9 part 1).

Several orchestrating processes share one database: ``clarion serve --no-workers``
plus ``clarion worker`` processes (on PostgreSQL, and on SQLite too), and
``clarion serve --worker-processes 2`` plus a worker on SQLite. Thirty profiles
get a burst of ten capped events each, in batches of twenty posted from four
connections at once, and the workers claim four at a time (so that, unchecked,
several of them hold events of one profile at once). However the events are
spread over the workers, no message,
channel or global cap is exceeded and no dedup key is sent twice; and each
profile ends with exactly the global cap's worth of messages, so nothing was lost,
also when a worker is SIGKILLed mid-stream and its partitions move on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clarion.core.partitions import PARTITIONS
from tests.integration.topology_support import (
    GLOBAL_CAP,
    Deployment,
    Processes,
    cap_breaches,
    counted_per_profile,
    event_batches,
    events_done,
    partitions_by_pid,
    post_batches,
    put_profiles,
    wait_until,
)

PROFILES = 30
PER_PROFILE = 10
BATCH = 20


def _check(url: str, processes: Processes, profiles: list[str]) -> None:
    total = PROFILES * PER_PROFILE
    try:
        wait_until(lambda: events_done(url, total), f"{total} events decided")
    except AssertionError:
        logs = {name: processes.log(name)[-1500:] for name in processes.running}
        raise AssertionError(f"not all events decided; logs: {logs}") from None
    breaches = cap_breaches(url)
    assert breaches == [], f"{len(breaches)} breaches:\n" + "\n".join(breaches[:20])
    assert counted_per_profile(url) == dict.fromkeys(profiles, GLOBAL_CAP)


@pytest.mark.slow
def test_several_worker_processes_decide_each_profile_one_event_at_a_time(
    db_url: str, tmp_path: Path
) -> None:
    with Processes(Deployment(db_url, tmp_path / "deployment")) as processes:
        if db_url.startswith("sqlite"):
            # The child that orchestrates, and one more orchestrating process, both
            # taking the events as they stream in.
            processes.serve("--worker-processes", "2")
            processes.worker("w1")
            profiles = put_profiles(processes.base_url, PROFILES)
            post_batches(processes.base_url, event_batches(profiles, PER_PROFILE, BATCH))
        else:
            # A backlog that three workers starting together all claim from at once.
            processes.serve("--no-workers")
            profiles = put_profiles(processes.base_url, PROFILES)
            post_batches(processes.base_url, event_batches(profiles, PER_PROFILE, BATCH))
            for name in ("w1", "w2", "w3"):
                processes.worker(name)
        _check(db_url, processes, profiles)


@pytest.mark.slow
def test_a_killed_worker_s_profiles_move_to_the_others_after_the_lease(
    db_url: str, tmp_path: Path
) -> None:
    with Processes(Deployment(db_url, tmp_path / "deployment")) as processes:
        processes.serve("--no-workers")
        pids = {name: processes.worker(name) for name in ("w1", "w2", "w3")}
        # The three have shared the partitions out before the stream starts.
        wait_until(
            lambda: sorted(partitions_by_pid(db_url).values()) == [21, 21, 22],
            "a fair share of the partitions each",
        )
        profiles = put_profiles(processes.base_url, PROFILES)
        batches = event_batches(profiles, PER_PROFILE, BATCH)
        half = len(batches) // 2
        post_batches(processes.base_url, batches[:half])
        processes.kill("w2")  # SIGKILL, in the middle of the stream
        post_batches(processes.base_url, batches[half:])
        _check(db_url, processes, profiles)
        # w2's partitions went to the two left, half each: at once, since they see
        # that its pid on this host is gone (a worker on another host waits for the
        # lease: test_store_partitions.py covers both).
        survivors = {pids["w1"]: PARTITIONS // 2, pids["w3"]: PARTITIONS // 2}
        wait_until(lambda: partitions_by_pid(db_url) == survivors, "w2's partitions moved")
