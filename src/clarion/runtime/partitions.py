"""A worker's share of the partitions of profiles, kept under a lease.

The orchestrator decides only events of partitions it holds (DESIGN §4: one
decider per profile). ``PartitionLease.refresh`` renews the lease every third of
its length, or every second if that is sooner, by the injected clock (a test's
clock that stands still needs no renewal), and logs and counts what changed hands.
The partitions of a worker that died on this host are taken at once; those of
one on another host when its lease runs out.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Protocol

from clarion.observability import PARTITION_REBALANCES, PARTITIONS_HELD, get_logger
from clarion.runtime.clock import Clock
from clarion.store.records import Holding

log = get_logger("clarion.partitions")

#: The longest time between renewals. A joining worker gets its share at the
#: renewals after it appears (the others give back, then it takes), so this bounds
#: how long it idles: about two seconds instead of two thirds of the lease. A
#: renewal is one short transaction on a 64-row table.
_RENEW_AT_MOST_EVERY = timedelta(seconds=1)


class PartitionStore(Protocol):
    """The store operations a partition lease uses."""

    def hold_partitions(
        self, owner: str, now: datetime, lease: timedelta, gone: Collection[str] = ()
    ) -> Holding: ...
    def release_partitions(self, owner: str) -> None: ...


class PartitionLease:
    """The partitions one worker (``owner``) holds; ``refresh()`` before each claim."""

    def __init__(self, store: PartitionStore, clock: Clock, owner: str, lease: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._held: frozenset[int] = frozenset()
        self._renew_at: datetime | None = None
        self._gone: frozenset[str] = frozenset()

    @property
    def held(self) -> frozenset[int]:
        return self._held

    def refresh(self) -> None:
        """Renew the lease and rebalance, if a third of the lease has passed."""
        now = self._clock()
        if self._renew_at is not None and now < self._renew_at:
            return
        holding = self._store.hold_partitions(self._owner, now, self._lease, self._gone)
        self._renew_at = now + min(self._lease / 3, _RENEW_AT_MOST_EVERY)
        # A worker that died on this host (a restarted `clarion serve`, a respawned
        # child) need not be waited for: the next renewal, at once, takes its share.
        self._gone = frozenset(p for p in holding.peers if p != self._owner and gone_here(p))
        if self._gone:
            log.info("partition_workers_gone", owner=self._owner, gone=sorted(self._gone))
            self._renew_at = now
        # Held before, neither kept nor given back: another worker took them after
        # this one's lease lapsed (it was stalled); its decisions there are void.
        lost = self._held - holding.held - holding.released
        for change, parts in (
            ("taken", holding.taken),
            ("released", holding.released),
            ("lost", lost),
        ):
            if parts:
                PARTITION_REBALANCES.labels(change).inc(len(parts))
                event = f"partitions_{change}"
                emit = log.warning if change == "lost" else log.info
                emit(event, owner=self._owner, partitions=sorted(parts), workers=holding.workers)
        self._held = holding.held
        PARTITIONS_HELD.set(len(self._held))

    def release(self) -> None:
        """Give every partition back now, so the others need not wait for the lease."""
        self._store.release_partitions(self._owner)  # and leave the live workers
        if self._held:
            PARTITION_REBALANCES.labels("released").inc(len(self._held))
            log.info("partitions_released", owner=self._owner, partitions=sorted(self._held))
        self._held = frozenset()
        PARTITIONS_HELD.set(0)


def gone_here(owner: str) -> bool:
    """True when ``owner`` (``host:pid:nonce``, see ``workers.worker_id``) names a
    process of this host that no longer exists.

    Only a certain answer counts: another host, a pid that exists (even reused by
    another program, or owned by another user) or a name of another form is not
    gone, and its partitions wait for their lease. A wrong "gone" would cost no
    correctness either (decisions commit only while their partition is owned),
    only a needless hand-over.
    """
    host, _, rest = owner.partition(":")
    pid, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
