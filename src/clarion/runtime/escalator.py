"""The escalation worker: moves escalation ladders on when a rung failed or was not
confirmed delivered in time, and closes them when a rung was confirmed.

The rules are the pure ``clarion.core.escalation.move``; this loads what they read
(open rungs, profiles, recent history for caps) and stores the moves. Each move
is applied only while its rung is still open, so concurrent workers, a replay
after a crash or a goal event arriving meanwhile never climb a ladder twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from clarion.catalog import Catalog
from clarion.core.decision import remembered
from clarion.core.escalation import LadderMove, OpenRung, move
from clarion.core.model import PastMessage, Profile
from clarion.observability import ESCALATIONS, get_logger
from clarion.runtime.clock import Clock

log = get_logger("clarion.escalator")


class EscalatorStore(Protocol):
    """The store operations the escalator uses."""

    def open_rungs(self, now: datetime, limit: int, owner: str) -> list[OpenRung]: ...
    def get_profiles(self, profile_ids: Iterable[str]) -> dict[str, Profile]: ...
    def history(
        self, profile_ids: Iterable[str], since: datetime
    ) -> dict[str, list[PastMessage]]: ...
    def apply_ladder_moves(
        self, moves: Sequence[LadderMove], now: datetime, owner: str
    ) -> list[str]: ...


class Escalator:
    """Moves due escalation ladders on, a batch at a time."""

    def __init__(
        self,
        store: EscalatorStore,
        catalog: Callable[[], Catalog],
        clock: Clock,
        owner: str,
        batch: int = 500,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        #: A move counts caps against the profile's history like a decision does,
        #: so it is made only for the partitions this owner's orchestrator holds.
        self._owner = owner
        self._batch = batch

    def run_once(self) -> int:
        """Move the ladders that are due; returns how many moves were applied."""
        now = self._clock()
        rungs = self._store.open_rungs(now, self._batch, self._owner)
        if not rungs:
            return 0
        spec = self._catalog().spec
        profiles = self._store.get_profiles({r.profile_id for r in rungs})
        # Only ladders that are not transactional count caps, so need history.
        capped = {
            r.profile_id
            for r in rungs
            if (found := spec.messages.get(r.message)) is not None and not found.transactional
        }
        history: dict[str, list[PastMessage]] = {}
        if capped:
            history = self._store.history(capped, now - spec.history_window)
        moves: list[LadderMove] = []
        channels: dict[str, str] = {}
        for r in rungs:
            profile = profiles.get(r.profile_id) or Profile(id=r.profile_id)
            found = spec.messages.get(r.message)
            # The ladder's A/B cell, as decide() saw it: its content, timing and caps.
            cell = found.for_cell(r.ab_test_cell) if found is not None else None
            try:
                moved = move(r, cell, profile, history.get(r.profile_id, ()), spec, now)
            except Exception:
                # One rung the rules cannot read must not hold up every other ladder:
                # it stays open (and logged) until a fixed catalog can move it.
                log.exception("ladder_move_failed", guid=r.guid, message=r.message)
                continue
            if moved is not None:
                moves.append(moved)
                channels[r.guid] = r.channel.value
                if r.profile_id in history:
                    # The profile's next ladder of this pass counts the rungs this
                    # one scheduled against its caps, as an event's messages do.
                    past = history[r.profile_id]
                    past += [p for d in moved.decisions if (p := remembered(d)) is not None]
        # Another worker (or a goal event) may have settled some rungs since they were
        # read: only the moves applied are counted and logged.
        applied = set(self._store.apply_ladder_moves(moves, now, self._owner))
        for m in moves:
            if m.guid in applied:
                ESCALATIONS.labels(channels[m.guid], m.reason.split(":", 1)[0]).inc()
                log.info(
                    "ladder_moved", guid=m.guid, reason=m.reason, next=[d.guid for d in m.decisions]
                )
        return len(applied)
