"""The orchestrator: claims accepted events, calls the pure ``decide()``, stores the outcome.

It claims only events of the partitions of profiles it holds under a lease
(``PartitionLease``), so a profile's events are decided by one worker at a time
in intake order, and its outcomes commit only while it still owns them.

A batch of events is decided against one load of profiles and history, and
stored in one transaction together with marking the events done. Decisions are
dated in intake order (``received_at``, ``seq``): never before the event they
answer, and a microsecond apart within a batch, so "newest first" (a profile's
messages, the notification center) is the order in which events came in. Message ids
are deterministic, so a batch that is retried after a crash stores nothing twice.

One bad event must not hold back the others: an event whose decision raises is
set aside and the rest of the batch is stored; if storing the batch fails, each
event is stored on its own. A failed event is retried after a backoff, alone
with its error, and dead-lettered after its last attempt (``Store.fail_event``).
A database outage is no event's fault: it fails the whole batch, whose lease
then expires and returns every event to the next claim, attempts uncounted.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from clarion.catalog import Catalog
from clarion.core.backoff import RetryPolicy
from clarion.core.decide import audience_of, decide
from clarion.core.decision import Outcome, remembered
from clarion.core.model import Event, PastMessage, Profile
from clarion.core.spec import Audience
from clarion.observability import (
    CANCELLATIONS,
    DECISIONS,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    EVENTS_PROCESSED,
    get_logger,
)
from clarion.runtime.clock import Clock
from clarion.runtime.partitions import PartitionLease
from clarion.store.base import Store
from clarion.store.errors import unavailable

log = get_logger("clarion.orchestrator")

#: How far apart the decisions of consecutive events of a batch are dated.
_TICK = timedelta(microseconds=1)


class Orchestrator:
    """Turns events into decided messages, one claimed batch at a time."""

    def __init__(
        self,
        store: Store,
        catalog: Callable[[], Catalog],
        clock: Clock,
        owner: str,
        batch: int = 500,
        lease: timedelta = timedelta(seconds=30),
        retry: RetryPolicy = RetryPolicy(base=1.0, cap=60.0, max_attempts=5),
        unit: Callable[[], float] = random.random,
        partition_lease: timedelta = timedelta(seconds=15),
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._owner = owner
        self._batch = batch
        self._lease = lease
        #: How often a failing event is tried, and how long apart.
        self._retry = retry
        self._unit = unit
        #: Only events of these partitions are claimed here, so no other worker
        #: decides this worker's profiles against history it is changing.
        self.partitions = PartitionLease(store, clock, owner, partition_lease)

    def run_once(self) -> int:
        """Process one batch; returns how many events it handled."""
        self.partitions.refresh()
        if not self.partitions.held:
            return 0
        leased_at = self._clock()
        events = self._store.claim_events(self._batch, leased_at, self._lease, self._owner)
        if not events:
            return 0
        claimed = len(events)
        # Decide at a time read after the claim: every claimed event was committed
        # before it, so no decision is dated before its event was received (a time
        # read before the claim can precede an event committed meanwhile).
        now = self._clock()
        spec = self._catalog().spec
        audiences: list[Audience] = []
        for event in list(events):
            try:
                audiences.append(audience_of(event, spec))
            except Exception as exc:
                self._failed(event, exc, now)
                events.remove(event)
        profiles = self._load_profiles(events, spec_audiences=audiences)
        history = self._store.history(
            profiles.keys() | {e.profile_id for e in events}, now - spec.history_window
        )
        # Later events of the batch must see what earlier ones decided, but only a
        # profile that more than one event reaches can be decided on twice.
        shared = _shared_profiles(events, audiences)
        results: list[tuple[Event, Outcome]] = []
        for i, event in enumerate(events):
            # Events are decided one after another in intake order, and dated so:
            # a microsecond apart, so a later event's messages are always newer.
            try:
                outcome = decide(event, profiles, history, spec, now + _TICK * i if i else now)
            except Exception as exc:
                self._failed(event, exc, now)
                continue
            if shared is None or event.profile_id in shared:
                _remember(history, outcome)
            results.append((event, outcome))
        created, stored = self._apply(results, now)
        _count(stored)
        log.debug("events_processed", events=len(stored), messages=created)
        return claimed

    def _apply(
        self, results: list[tuple[Event, Outcome]], now: datetime
    ) -> tuple[int, list[tuple[Event, Outcome]]]:
        """Store the outcomes in one transaction; if that fails for anything but an
        outage, each on its own, so that only the one the database refuses fails.
        The number of new messages, and the outcomes stored."""
        if not results:
            return 0, []
        try:
            return self._store.apply_outcomes(results, self._owner, now), results
        except Exception as exc:
            if unavailable(exc):
                raise
            if len(results) == 1:
                self._failed(results[0][0], exc, now)
                return 0, []
        created = 0
        stored: list[tuple[Event, Outcome]] = []
        for result in results:
            try:
                created += self._store.apply_outcomes([result], self._owner, now)
            except Exception as exc:
                if unavailable(exc):
                    raise
                self._failed(result[0], exc, now)
                continue
            stored.append(result)
        return created, stored

    def _failed(self, event: Event, exc: Exception, now: datetime) -> None:
        """Count a failed attempt at ``event``: retried later, or dead-lettered."""
        error = f"{type(exc).__name__}: {exc}"
        failure = self._store.fail_event(
            event.id, self._owner, error, now, self._retry, self._unit()
        )
        if failure is None:
            return  # another worker took the event over meanwhile
        # The error class only: its message may quote the event's payload.
        where = {"event_id": event.id, "error": type(exc).__name__, "attempts": failure.attempts}
        if failure.dead:
            EVENTS_DEAD_LETTERED.inc()
            log.error("event_dead_lettered", **where)
        else:
            EVENTS_FAILED.inc()
            log.warning("event_failed", retry_at=failure.retry_at, **where)

    def _load_profiles(
        self, events: Sequence[Event], spec_audiences: Sequence[Audience]
    ) -> dict[str, Profile]:
        profiles = self._store.get_profiles({e.profile_id for e in events})
        accounts = {
            e.account_id
            for e, audience in zip(events, spec_audiences, strict=True)
            if audience is Audience.ACCOUNT and e.account_id
        }
        if accounts:
            profiles.update(self._store.profiles_of_accounts(accounts))
        return profiles


def _shared_profiles(events: Sequence[Event], audiences: Sequence[Audience]) -> set[str] | None:
    """Profiles that more than one event of the batch reaches; None for "maybe any"
    (an event for a whole account reaches profiles other than its own)."""
    if any(audience is Audience.ACCOUNT for audience in audiences):
        return None
    seen: set[str] = set()
    shared: set[str] = set()
    for event in events:
        (shared if event.profile_id in seen else seen).add(event.profile_id)
    return shared


def _remember(history: dict[str, list[PastMessage]], outcome: Outcome) -> None:
    """Fold an outcome into the in-memory history so later events of the batch see it."""
    for d in outcome.decisions:
        if (past := remembered(d)) is not None:
            history.setdefault(d.profile_id, []).append(past)
    if outcome.cancellations:
        gone = {c.guid: c.status for c in outcome.cancellations}
        for profile_id in {c.profile_id for c in outcome.cancellations}:
            history[profile_id] = [
                replace(m, status=gone[m.guid]) if m.guid in gone else m
                for m in history.get(profile_id, [])
            ]


def _count(results: Sequence[tuple[Event, Outcome]]) -> None:
    EVENTS_PROCESSED.inc(len(results))
    tally: dict[tuple[str, str, str], int] = {}
    cancelled = 0
    for _, outcome in results:
        cancelled += len(outcome.cancellations)
        for d in outcome.decisions:
            reason = (d.reason or "").split(":", 1)[0]
            key = (d.channel.value, d.status.value, reason)
            tally[key] = tally.get(key, 0) + 1
    for (channel, status, reason), n in tally.items():
        DECISIONS.labels(channel=channel, status=status, reason=reason).inc(n)
    if cancelled:
        CANCELLATIONS.inc(cancelled)
