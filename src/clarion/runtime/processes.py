"""The workers in child processes of ``clarion serve`` (``worker_processes`` > 0).

Embedded mode runs the API and the workers in one process, so they share one
interpreter lock and, together, at most one core. With ``worker_processes = N``
the API process starts N children on the same database (SQLite in WAL mode
serves several processes; writers queue on ``clarion.store.sql.writer``). One
child runs both the orchestrator and the dispatcher; with two or more, the
first orchestrates and the others dispatch, so that no two busy roles share an
interpreter (a thread waiting on the database and another busy in Python slow
each other down far beyond their share of the core). Intake wakes the
orchestrator after each commit, and the orchestrator the dispatchers, through
cross-process events. A child that dies is started again; a child whose parent
died stops by itself. What a child runs is built by the composition root
(``clarion.service.build_worker_process``), passed in as ``build``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Protocol

from clarion.config import Settings
from clarion.observability import configure_logging, get_logger
from clarion.runtime.workers import Signal, share_interpreter_fairly

log = get_logger("clarion.processes")

#: How often a child checks that its parent lives, and the parent its children.
_CHECK_S = 1.0


def child_settings(settings: Settings, count: int) -> Settings:
    """The settings of each of ``count`` children: workers of their own, and their
    part of each provider's rate limit (shared by the children that dispatch: all
    but the orchestrating one, when there are two or more)."""
    dispatchers = max(count - 1, 1)
    return settings.model_copy(
        update={
            "worker_processes": 0,
            "run_workers": True,
            "rate_limit_share": settings.rate_limit_share * dispatchers,
        }
    )


class ChildWorkers(Protocol):
    """What a child runs: ``start`` its workers, ``stop`` them and close what it opened."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


#: Builds a child's workers from its settings, its two flags (events accepted,
#: messages scheduled) and its roles (orchestrate, dispatch). Called in the child,
#: so it must be picklable: a module-level function.
BuildChild = Callable[[Settings, Signal, Signal, tuple[bool, bool]], ChildWorkers]


class WorkerProcesses:
    """Starts, watches and stops the worker children; ``wake()`` is safe from any thread."""

    def __init__(self, settings: Settings, count: int, build: BuildChild) -> None:
        self._settings = child_settings(settings, count)
        self._build = build
        self._context = multiprocessing.get_context("spawn")
        self._wakes = [self._context.Event() for _ in range(count)]
        # Set by the orchestrator, awaited by the dispatchers.
        self._messages: ProcessEvent | None = self._context.Event()
        self._children: list[SpawnProcess | None] = [None] * count
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="clarion-children", daemon=True)

    def start(self) -> None:
        for index in range(len(self._children)):
            self._spawn(index)
        self._watcher.start()
        log.info("worker_processes_started", pids=[c.pid for c in self._children if c])

    def wake(self) -> None:
        """New events were accepted."""
        for event in self._wakes:
            event.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        children = [c for c in self._children if c is not None]
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: the child finishes its batch and leaves
        for child in children:
            child.join(timeout)
            if child.is_alive():
                child.kill()
                child.join()
        self._watcher.join(timeout)
        # Release the cross-process flags now, not at interpreter exit, when
        # multiprocessing would warn about leaked semaphores.
        self._wakes.clear()
        self._messages = None
        self._children = [None] * len(children)

    def _spawn(self, index: int) -> None:
        count = len(self._children)
        roles = (index == 0 or count == 1, index > 0 or count == 1)  # (orchestrate, dispatch)
        assert self._messages is not None, "started after stop"
        child = self._context.Process(
            target=_child_main,
            args=(
                self._build,
                self._settings,
                self._wakes[index],
                self._messages,
                roles,
                os.getpid(),
            ),
            name=f"clarion-worker-{index}",
            daemon=True,
        )
        child.start()
        self._children[index] = child

    def _watch(self) -> None:
        while not self._stopping.wait(_CHECK_S):
            for index, child in enumerate(self._children):
                if child is not None and not child.is_alive() and not self._stopping.is_set():
                    log.error("worker_process_died", pid=child.pid, exitcode=child.exitcode)
                    self._spawn(index)


def _child_main(
    build: BuildChild,
    settings: Settings,
    wake: ProcessEvent,
    messages: ProcessEvent,
    roles: tuple[bool, bool],
    parent: int,
) -> None:
    """A child's whole life: run the workers until SIGTERM or the parent's death."""
    configure_logging(settings.log_level, settings.log_json)
    share_interpreter_fairly()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    workers = build(settings, wake, messages, roles)
    workers.start()
    try:
        while not stop.wait(_CHECK_S):
            if os.getppid() != parent:
                log.warning("worker_process_orphaned", pid=os.getpid())
                break
    finally:
        workers.stop()
