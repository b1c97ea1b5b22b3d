"""Durable, idempotent intake with group commit.

Each API request waits until its events are committed, so a 202 means the event
survives a crash. Requests that arrive while a commit is in flight are gathered
into the next one: under load many requests share one transaction (and one
fsync), which is what lets a single SQLite file accept thousands of events a
second with low latency. A commit the database refuses (not one it cannot take
for an outage) is split in halves and each retried, until the request behind it
is alone: the others sharing its commit are stored and answered as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from clarion.core.model import Event
from clarion.observability import EVENTS_ACCEPTED, EVENTS_DUPLICATE, INTAKE_BATCH, INTAKE_SPLITS
from clarion.runtime.clock import Clock
from clarion.store.errors import unavailable
from clarion.store.records import Accepted


class IntakeStore(Protocol):
    """The store operation intake uses."""

    def accept_events(self, events: Sequence[Event], now: datetime) -> list[Accepted]: ...


@dataclass(slots=True)
class _Pending:
    events: Sequence[Event]
    done: asyncio.Future[list[Accepted]] = field(default_factory=asyncio.Future)


class Intake:
    """Accepts events on the API's event loop; commits them from a worker thread."""

    def __init__(
        self,
        store: IntakeStore,
        clock: Clock,
        on_commit: Callable[[], None] = lambda: None,
        max_batch: int = 2000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="clarion-intake")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def submit(self, events: Sequence[Event]) -> list[Accepted]:
        """Wait until ``events`` are durably stored; answers in the same order."""
        if self._wakeup is None:
            raise RuntimeError("intake not started")
        pending = _Pending(events)
        self._queue.append(pending)
        self._wakeup.set()
        return await pending.done

    def _take(self) -> list[_Pending]:
        taken: list[_Pending] = []
        size = 0
        while self._queue and (not taken or size + len(self._queue[0].events) <= self._max_batch):
            item = self._queue.pop(0)
            taken.append(item)
            size += len(item.events)
        return taken

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._commit(self._take())

    async def _commit(self, batch: list[_Pending]) -> None:
        events = [e for p in batch for e in p.events]
        try:
            results = await asyncio.to_thread(self._store.accept_events, events, self._clock())
        except Exception as exc:
            if len(batch) > 1 and not unavailable(exc):
                # The database refused something one request brought (intake's
                # validation should have caught it): commit the halves on their own,
                # so that only the request that broke the commit fails.
                INTAKE_SPLITS.inc()
                half = len(batch) // 2
                await self._commit(batch[:half])
                await self._commit(batch[half:])
                return
            # The store failed: every waiter hears it, nothing is acked.
            for p in batch:
                if not p.done.done():
                    p.done.set_exception(exc)
            return
        INTAKE_BATCH.observe(len(events))
        duplicates = sum(1 for r in results if r.duplicate)
        EVENTS_ACCEPTED.inc(len(results) - duplicates)
        EVENTS_DUPLICATE.inc(duplicates)
        if duplicates < len(results):
            self._on_commit()
        offset = 0
        for p in batch:
            if not p.done.done():
                p.done.set_result(results[offset : offset + len(p.events)])
            offset += len(p.events)
