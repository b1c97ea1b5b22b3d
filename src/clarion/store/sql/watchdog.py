"""A bound on how long one store call may hold a PostgreSQL connection.

A server that stops answering (frozen, SIGSTOP, a network path that drops
packets silently) leaves a query waiting on its socket forever: the kernel on
the other side still acknowledges every byte, so neither TCP keepalives nor
``tcp_user_timeout`` notice, and PostgreSQL's own ``statement_timeout`` needs a
server that runs. Only the client can give up. Each checkout of a pooled
connection is watched from a single thread; a call still holding its connection
after its budget has the connection's socket shut down, so the blocked driver
call returns at once with a disconnect (an ``OperationalError``: the API answers
503, the pool replaces the connection, workers back off).

A new connection is bounded by the driver's connect timeout, which libpq counts
in whole seconds of at least 2; a caller whose budget is shorter connects in a
thread of its own and stops waiting when its budget is spent.

The budget is the engine's default (generous: workers' batches of hundreds of
events) unless the caller's context set another with ``call_budget``: API
requests do, so that a frozen database costs them a 503 within about a second.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from clarion.observability import DATABASE_CALLS_ABANDONED, get_logger

log = get_logger("clarion.store")

_BUDGET: ContextVar[float | None] = ContextVar("clarion_store_call_budget", default=None)
#: Connection attempts under way at once (the pool's 10 + 10 connections).
MAX_CONNECT_ATTEMPTS = 20
#: Where a checkout's watch is kept on its pool record.
_KEY = "clarion_watch"


@contextmanager
def call_budget(seconds: float) -> Iterator[None]:
    """Store calls made in this context (and tasks and threads started from it,
    which copy it) may each take up to ``seconds``."""
    token = _BUDGET.set(seconds)
    try:
        yield
    finally:
        _BUDGET.reset(token)


class Watchdog:
    """Shuts down the socket of any checkout that outlives its budget."""

    def __init__(self, default_budget: float, connect_timeout: float) -> None:
        self._default = default_budget
        self._connect_timeout = connect_timeout
        # Attempts outlive the callers that stopped waiting for them (until the
        # driver's timeout): at most this many at once, the rest fail at once.
        self._attempts = threading.BoundedSemaphore(MAX_CONNECT_ATTEMPTS)
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[float, Any]] = {}  # id -> (deadline, psycopg conn)
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def install(self, engine: Engine) -> None:
        sa.event.listen(engine, "do_connect", self._connect)
        sa.event.listen(engine, "checkout", self._checkout)
        for done in ("checkin", "invalidate", "soft_invalidate", "close", "detach"):
            sa.event.listen(engine, done, self._release)

    def _connect(self, dialect: Any, _record: object, cargs: Any, cparams: Any) -> Any:
        budget = _BUDGET.get()
        if budget is None or budget >= self._connect_timeout:
            return None  # the driver's own timeout is the bound: connect as usual
        refused = dialect.loaded_dbapi.OperationalError
        if not self._attempts.acquire(blocking=False):
            raise refused("too many connection attempts under way")
        attempt = _Attempt(lambda: dialect.connect(*cargs, **cparams), self._attempts.release)
        return attempt.wait(budget, refused)

    def _checkout(self, dbapi_connection: Any, record: Any, _proxy: object) -> None:
        budget = _BUDGET.get()
        watch = next(self._ids)
        record.info[_KEY] = watch
        deadline = time.monotonic() + (self._default if budget is None else budget)
        with self._lock:
            self._watched[watch] = (deadline, dbapi_connection)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="clarion-db-watchdog", daemon=True
                )
                self._thread.start()

    def _release(self, _dbapi_connection: Any, record: Any, *_: object) -> None:
        # Under the lock: once released, the watchdog never touches the socket,
        # which may be closed and its descriptor number reused right after.
        watch = record.info.pop(_KEY, None) if record is not None else None
        if watch is not None:
            with self._lock:
                self._watched.pop(watch, None)

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            with self._lock:
                late = [w for w, (deadline, _) in self._watched.items() if deadline <= now]
                for watch in late:
                    _, connection = self._watched.pop(watch)
                    _shut_down(connection)
                soonest = min((d for d, _ in self._watched.values()), default=now + 1.0)
            if late:
                DATABASE_CALLS_ABANDONED.inc(len(late))
                log.warning("database_call_abandoned", calls=len(late))
            time.sleep(min(max(soonest - now, 0.01), 0.1))


class _Attempt:
    """One connection attempt on a thread of its own, which a caller may stop
    waiting for; a connection that arrives after that is closed."""

    def __init__(self, connect: Callable[[], Any], done: Callable[[], None]) -> None:
        self._connect = connect
        self._finished = done
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._outcome: list[Any] = []
        self._abandoned = False
        threading.Thread(target=self._run, name="clarion-db-connect", daemon=True).start()

    def _run(self) -> None:
        try:
            outcome = self._connect()
        except Exception as exc:
            outcome = exc
        finally:
            self._finished()
        with self._lock:
            if self._abandoned:
                if not isinstance(outcome, Exception):
                    outcome.close()
                return
            self._outcome.append(outcome)
            self._done.set()

    def wait(self, seconds: float, timeout_error: type[Exception]) -> Any:
        self._done.wait(seconds)
        with self._lock:
            if not self._outcome:
                self._abandoned = True
                raise timeout_error(f"connection timeout expired (after {seconds:g} s)")
        outcome = self._outcome[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _shut_down(connection: Any) -> None:
    """Wake the thread blocked on ``connection``: its socket reads end of stream."""
    try:
        fd = connection.pgconn.socket
        sock = socket.socket(fileno=socket.dup(fd))
    except Exception:  # already closed: nothing waits on it
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()
