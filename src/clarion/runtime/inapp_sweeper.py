"""The in-app sweeper: writes down when dismissals end, and forgets the receipts of
expired feedback objects.

A fetch stops hiding a dismissed alert when its suppression ends by itself (it
compares the suppression's end with the clock), so nothing waits for this worker
and a fetch stays a read. The sweeper records the end in the timeline of every
live alert the suppression hid (``unsuppressed``, dated at the end however late
the sweep runs), and keeps ``feedback_receipts`` to objects that can still verify.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from clarion.observability import get_logger
from clarion.runtime.clock import Clock

log = get_logger("clarion.inapp_sweeper")


class SweeperStore(Protocol):
    """The store operations the in-app sweeper uses."""

    def inapp_upkeep_due(self, now: datetime) -> bool: ...
    def end_suppressions(self, now: datetime, limit: int) -> int: ...
    def purge_feedback_receipts(self, now: datetime, limit: int) -> int: ...


class InAppSweeper:
    """One pass over ended suppressions and expired feedback receipts, a batch of each."""

    def __init__(self, store: SweeperStore, clock: Clock, batch: int = 500) -> None:
        self._store = store
        self._clock = clock
        self._batch = batch

    def run_once(self) -> int:
        """Sweep once; returns how many suppressions ended and receipts were forgotten."""
        now = self._clock()
        if not self._store.inapp_upkeep_due(now):
            return 0
        ended = self._store.end_suppressions(now, self._batch)
        purged = self._store.purge_feedback_receipts(now, self._batch)
        if ended or purged:
            log.info("inapp_swept", suppressions_ended=ended, receipts_purged=purged)
        return ended + purged
