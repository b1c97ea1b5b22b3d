"""Running the workers: the orchestrator and the dispatcher, each on its own thread.

In embedded mode they share the API's process; ``clarion worker`` runs them alone
(distributed mode, several processes on PostgreSQL). Idle workers sleep for the
poll interval, or less when intake or the orchestrator signals new work.
``run_until_idle`` runs the same steps on the caller's thread instead, until none
has anything left to do at the clock's time (as dramatiq's ``join()`` does for tests).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

from clarion.catalog import Catalog
from clarion.channels.base import Provider
from clarion.channels.provider_config import rate_limits
from clarion.config import Settings
from clarion.core.backoff import RetryPolicy
from clarion.core.partitions import PARTITIONS
from clarion.observability import get_logger
from clarion.runtime.clock import Clock
from clarion.runtime.dispatcher import Dispatcher
from clarion.runtime.escalator import Escalator
from clarion.runtime.inapp_sweeper import InAppSweeper
from clarion.runtime.orchestrator import Orchestrator
from clarion.runtime.outage import Outage
from clarion.runtime.ratelimit import RateLimit, RateLimits
from clarion.store import UNAVAILABLE
from clarion.store.base import Store

log = get_logger("clarion.workers")

#: How long a thread may keep the interpreter lock while another waits for it.
#: Python's default, 5 ms, is paid by every thread that comes back from SQLite,
#: a socket or a lock while another thread is busy in Python; the API, intake
#: and the workers do that thousands of times a second. At 0.5 ms the embedded
#: pipeline's event->provider latency halved (p50 1.2 s -> 0.58 s at 350
#: events/s) and intake's p50 went from 212 ms to 91 ms, for the same throughput.
SWITCH_INTERVAL_S = 0.0005


def share_interpreter_fairly() -> None:
    """Make this process's threads take turns more often (see ``SWITCH_INTERVAL_S``)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def worker_id() -> str:
    """A lease owner name unique to this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def rate_limits_of(settings: Settings) -> RateLimits:
    """The configured providers' rate limits, this process's share of each."""
    configured = rate_limits(settings.providers)
    limits = {name: RateLimit(c.per_second, c.burst) for name, c in configured.items()}
    return RateLimits(limits, share=settings.rate_limit_share)


class Signal(Protocol):
    """An event flag: ``threading.Event``, or ``multiprocessing``'s across processes."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class LiveCatalog(Protocol):
    """Where workers read the current catalog: a ``CatalogHolder`` (hot-reloaded), or the
    simulator's fixed one."""

    @property
    def current(self) -> Catalog: ...


class Workers:
    """Owns the worker threads; ``wake()`` is safe to call from any thread.

    ``wake`` is the flag that says new events were accepted, ``messages`` the one
    that says new messages were scheduled; by default both are this process's own.
    Worker processes pass flags shared across processes, and may run one role
    each (``orchestrate`` or ``dispatch``).
    """

    def __init__(
        self,
        store: Store,
        catalog: LiveCatalog,
        providers: Mapping[str, Provider],
        settings: Settings,
        clock: Clock,
        wake: Signal | None = None,
        messages: Signal | None = None,
        *,
        orchestrate: bool = True,
        dispatch: bool = True,
    ) -> None:
        owner = worker_id()
        self._providers = providers
        self._catalog = catalog
        self._settings = settings
        self._stop = threading.Event()
        self._events_waiting: Signal = wake if wake is not None else threading.Event()
        self._messages_waiting: Signal = messages if messages is not None else threading.Event()
        self.orchestrator = Orchestrator(
            store,
            lambda: catalog.current,
            clock,
            owner,
            batch=settings.orchestrator_batch,
            lease=timedelta(seconds=settings.event_lease_seconds),
            retry=RetryPolicy(
                base=settings.event_retry_base_seconds,
                cap=settings.event_retry_cap_seconds,
                max_attempts=settings.event_max_attempts,
            ),
            partition_lease=timedelta(seconds=settings.partition_lease_seconds),
        )
        self.escalator = Escalator(
            store, lambda: catalog.current, clock, owner, batch=settings.escalation_batch
        )
        self._orchestrates = orchestrate
        self._dispatches = dispatch
        self._next_escalation = time.monotonic()
        self.inapp_sweeper = InAppSweeper(store, clock, batch=settings.escalation_batch)
        self.dispatcher = Dispatcher(
            store,
            lambda: catalog.current,
            providers,
            settings.routes,
            clock,
            owner,
            policy=RetryPolicy(
                base=settings.retry_base_seconds,
                cap=settings.retry_cap_seconds,
                max_attempts=settings.retry_max_attempts,
            ),
            batch=settings.dispatcher_batch,
            lease=timedelta(seconds=settings.message_lease_seconds),
            concurrency=settings.dispatcher_concurrency,
            limits=rate_limits_of(settings),
            failover_after=settings.failover_after_attempts,
            # A send waiting for its slot must not outlive its claim's lease.
            max_wait=min(settings.rate_limit_max_wait_seconds, settings.message_lease_seconds / 2),
        )
        self._threads: list[threading.Thread] = []
        self._started = False
        #: The event loop ``run_until_idle`` dispatches on: one for the life of these
        #: workers, as the dispatcher thread's, since providers keep connections per loop.
        self._loop: asyncio.AbstractEventLoop | None = None
        if orchestrate:
            self._threads.append(
                threading.Thread(target=self._orchestrate, name="clarion-orchestrator", daemon=True)
            )
        if dispatch:
            self._threads.append(
                threading.Thread(target=self._dispatch, name="clarion-dispatcher", daemon=True)
            )

    def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("these workers were run by run_until_idle; threads cannot join")
        self._started = True
        for thread in self._threads:
            thread.start()
        log.info("workers_started", threads=[t.name for t in self._threads])

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._events_waiting.set()
        self._messages_waiting.set()
        if self._started:
            for thread in self._threads:
                thread.join(timeout)
        self._close_loop()
        if self._orchestrates:
            # Hand the partitions over now rather than when their lease runs out.
            try:
                self.orchestrator.partitions.release()
            except Exception:
                log.exception("partitions_release_failed")

    def wake(self) -> None:
        """New events were accepted."""
        self._events_waiting.set()

    def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Run every worker step on this thread, in rounds, until a round finds nothing
        to do at the clock's current time; returns how many rounds did something.

        A round is one batch of each step, in the threads' order: the orchestrator,
        the in-app sweeper, the escalator, the dispatcher. Idle means the orchestrator
        claimed no event, and the sweeper, the escalator and the dispatcher found
        nothing either; a retry or a delay not yet due waits for a later call, after
        the clock has moved. For workers whose threads were not started (tests, tools
        that drive the clock by hand); not thread-safe.
        """
        if self._started:
            raise RuntimeError("the worker threads are running; they cannot also be run here")
        if not (self._orchestrates and self._dispatches):
            raise RuntimeError("run_until_idle needs workers that orchestrate and dispatch")
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        for busy_rounds in range(max_rounds + 1):
            handled = self.orchestrator.run_once()
            held = len(self.orchestrator.partitions.held)
            if held < PARTITIONS:
                # Events of the other partitions wait for another worker: "idle" would lie.
                raise RuntimeError(f"run_until_idle holds {held} of {PARTITIONS} partitions")
            swept = self.inapp_sweeper.run_once()
            moved = self.escalator.run_once()
            sent = self._loop.run_until_complete(self.dispatcher.run_once())
            if not (handled or swept or moved or sent):
                return busy_rounds
        raise RuntimeError(f"still busy after {max_rounds} rounds")

    def _close_loop(self) -> None:
        """Close the providers' connections on the loop that opened them, then the loop."""
        loop, self._loop = self._loop, None
        if loop is None:
            return

        def close() -> None:
            try:
                for provider in self._providers.values():
                    loop.run_until_complete(provider.aclose())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            close()
            return
        # Called from a running loop (the API's shutdown): one loop cannot run inside
        # another on a thread, so this one finishes on a thread of its own.
        closer = threading.Thread(target=close, name="clarion-idle-loop-close")
        closer.start()
        closer.join()

    def _pause(self, signal: Signal) -> None:
        signal.wait(self._settings.poll_interval_seconds)
        signal.clear()

    def _orchestrate(self) -> None:
        outage = Outage("orchestrator")
        while not self._stop.is_set():
            try:
                handled = self._decide()
                escalated = self._escalate_if_due()
            except UNAVAILABLE as exc:
                self._stop.wait(outage.failed(exc))
                continue
            outage.succeeded()
            if escalated or handled:
                self._messages_waiting.set()
            if handled:
                continue
            self._pause(self._events_waiting)

    def _decide(self) -> int:
        """One orchestrator batch; a database that is down is the loop's to handle."""
        try:
            return self.orchestrator.run_once()
        except UNAVAILABLE:
            raise
        except Exception:
            log.exception("orchestrator_failed")
            return 0

    def _escalate_if_due(self) -> int:
        """Move escalation ladders on, every ``escalation_poll_seconds`` at most."""
        if time.monotonic() < self._next_escalation:
            return 0
        self._next_escalation = time.monotonic() + self._settings.escalation_poll_seconds
        try:
            # Ended dismissals and expired feedback receipts, on the same schedule.
            self.inapp_sweeper.run_once()
        except Exception:
            log.exception("inapp_sweeper_failed")
        try:
            return self.escalator.run_once()
        except UNAVAILABLE:
            raise  # the database is down: the loop backs off
        except Exception:
            log.exception("escalator_failed")
            return 0

    def _dispatch(self) -> None:
        asyncio.run(self._dispatch_loop())

    async def _dispatch_loop(self) -> None:
        outage = Outage("dispatcher")
        try:
            while not self._stop.is_set():
                try:
                    claimed = await self.dispatcher.run_once()
                except UNAVAILABLE as exc:
                    await asyncio.to_thread(self._stop.wait, outage.failed(exc))
                    continue
                except Exception:
                    log.exception("dispatcher_failed")
                    claimed = 0
                else:
                    outage.succeeded()
                if not claimed:
                    await asyncio.to_thread(self._pause, self._messages_waiting)
        finally:
            # Connections a provider opened belong to this thread's event loop, which
            # ends here: close them now, not later from another loop (closing twice
            # is harmless, so the owner's own close still works).
            for provider in self._providers.values():
                await provider.aclose()
