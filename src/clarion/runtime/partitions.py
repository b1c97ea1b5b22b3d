"""A worker's share of the partitions of profiles, kept under a lease.

The orchestrator decides only events of partitions it holds (DESIGN §4: one
decider per profile). ``PartitionLease.refresh`` renews the lease every third of
its length, or every second if that is sooner, by the injected clock (a test's
clock that stands still needs no renewal), and logs and counts what changed hands.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from clarion.observability import PARTITION_REBALANCES, PARTITIONS_HELD, get_logger
from clarion.runtime.clock import Clock
from clarion.store.base import Store

log = get_logger("clarion.partitions")

#: The longest time between renewals. A joining worker gets its share at the
#: renewals after it appears (the others give back, then it takes), so this bounds
#: how long it idles: about two seconds instead of two thirds of the lease. A
#: renewal is one short transaction on a 64-row table.
_RENEW_AT_MOST_EVERY = timedelta(seconds=1)


class PartitionLease:
    """The partitions one worker (``owner``) holds; ``refresh()`` before each claim."""

    def __init__(self, store: Store, clock: Clock, owner: str, lease: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._held: frozenset[int] = frozenset()
        self._renew_at: datetime | None = None

    @property
    def held(self) -> frozenset[int]:
        return self._held

    def refresh(self) -> None:
        """Renew the lease and rebalance, if a third of the lease has passed."""
        now = self._clock()
        if self._renew_at is not None and now < self._renew_at:
            return
        holding = self._store.hold_partitions(self._owner, now, self._lease)
        self._renew_at = now + min(self._lease / 3, _RENEW_AT_MOST_EVERY)
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
