"""One SQLite write transaction at a time, queued without SQLite's busy polling.

SQLite lets one writer in at a time; a writer that finds the database locked
waits in its busy handler, which sleeps 1, 2, 5, 10, ... up to 100 ms between
tries. Under load the API's intake commit then waits tens of milliseconds after
the orchestrator's or dispatcher's transaction has already ended (measured: p90
of 55 ms and p99 of 230 ms to start a transaction with the workers busy). Here
writers queue instead and the next one starts as soon as the previous one ends:
threads of one process on a lock, and processes sharing the file (``clarion
worker`` beside ``clarion serve``) on an exclusive ``flock`` of a lock file next
to the database. SQLite's own locking still guards the data; this only orders
who asks. PostgreSQL needs none of it (``dialects``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from types import TracebackType

import sqlalchemy as sa

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: only this process's threads queue
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """Held around each write transaction on one SQLite database."""

    def __init__(self, database: str, timeout: float) -> None:
        self._timeout = timeout
        self._thread = threading.Lock()
        self._fd: int | None = None
        if fcntl is not None:
            self._fd = os.open(f"{database}-writer", os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> None:
        if not self._thread.acquire(timeout=self._timeout):
            raise _locked()
        try:
            if self._fd is not None:
                self._lock_file()
        except BaseException:
            self._thread.release()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def _lock_file(self) -> None:
        # Blocking: the kernel wakes a waiter as soon as the holder lets go, where
        # polling would lose the race to a process that takes it again at once
        # (measured: intake starved behind two worker processes). No time limit is
        # needed: the holder is working, or dead and its lock released by the kernel.
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _locked() -> sa.exc.OperationalError:
    # What SQLite's own busy timeout raises, so callers handle one error.
    return sa.exc.OperationalError(
        "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
    )
