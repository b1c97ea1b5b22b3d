"""SQLAlchemy engines configured for the store: SQLite (embedded) and PostgreSQL.

SQLite: WAL so readers never block the writer, a busy timeout, and every write
transaction opened with ``BEGIN IMMEDIATE``. With pysqlite's default deferred
``BEGIN``, two transactions that both read and then write can each hold a read
lock and neither can upgrade: one fails at once with "database is locked" and
the busy timeout does not help. Taking the write lock at ``BEGIN`` makes
writers queue on the busy timeout instead. Read-only work goes through
``reader()``, whose transactions use a deferred ``BEGIN`` and run alongside the
writer.

PostgreSQL: psycopg 3 with a pool shared by the API and worker threads.

Every wait on the database is bounded (``Timeouts``), so that a database that
stops answering costs a request a 503 within about two seconds rather than
hanging it for as long as the outage lasts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from clarion.store.sql.watchdog import Watchdog

#: Execution option that marks an engine's transactions as read-only (see ``reader``).
_READ_ONLY = "clarion_read_only"
_SYNCHRONOUS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the store waits on the database (seconds; see README, configuration)."""

    #: Establishing a PostgreSQL connection (libpq counts whole seconds, at least 2).
    connect: int = 2
    #: A store call (one transaction, from checkout to checkin) made for an API
    #: request (``watchdog.call_budget``); also the longest wait for a pooled connection.
    request: float = 1.5
    #: PostgreSQL's ``statement_timeout``: the server cancels a runaway statement
    #: itself. Any other store call (workers' batches, commands) that holds its
    #: connection a second longer has it closed under it (``watchdog``).
    call: float = 30.0
    #: SQLite: waiting for the write lock held by another connection or process.
    sqlite_busy: float = 10.0


DEFAULT_TIMEOUTS = Timeouts()

#: What a database that is down, frozen or overloaded raises: a lost or refused
#: connection, a statement cancelled or abandoned (``watchdog``), or no pooled
#: connection free in time. Callers answer 503 (the API) or back off (workers).
UNAVAILABLE: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.TimeoutError)


def _json_default(value: object) -> object:
    # Domain values hold read-only mappings and frozensets; orjson knows neither.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _json_bytes(value: object) -> bytes:
    return orjson.dumps(value, default=_json_default)


def json_text(value: object) -> str:
    """``value`` as JSON text, the way the store writes every JSON column."""
    return _json_bytes(value).decode()


def normalize_url(url: str) -> sa.URL:
    """The URL with PostgreSQL pinned to psycopg 3, the driver Clarion ships with."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine(
    url: str, *, sqlite_synchronous: str = "NORMAL", timeouts: Timeouts = DEFAULT_TIMEOUTS
) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``)."""
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, sqlite_synchronous, timeouts.sqlite_busy)
    if backend == "postgresql":
        return _postgres_engine(parsed, timeouts)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _postgres_engine(url: sa.URL, timeouts: Timeouts) -> Engine:
    statement_ms = max(1, int(timeouts.call * 1000))
    engine = sa.create_engine(
        url,
        hide_parameters=True,  # see _sqlite_engine
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeouts.request,
        connect_args={
            "connect_timeout": max(2, timeouts.connect),
            # The server cancels a runaway statement itself (and keeps the connection).
            "options": f"-c statement_timeout={statement_ms}",
        },
        json_serializer=_json_bytes,  # psycopg takes bytes and skips a decode
        json_deserializer=orjson.loads,
    )
    # A second more than the server's statement_timeout: a slow statement is
    # cancelled by a running server (keeping the connection), a frozen one is cut.
    watchdog = Watchdog(timeouts.call + 1.0, connect_timeout=max(2, timeouts.connect))
    watchdog.install(engine)
    return engine


def _sqlite_engine(url: sa.URL, synchronous: str, busy_timeout: float) -> Engine:
    synchronous = synchronous.upper()
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {sorted(_SYNCHRONOUS)}")
    if url.database in (None, "", ":memory:"):
        # Each pooled connection would see its own empty database.
        raise ValueError("the store needs a SQLite file, not an in-memory database")
    engine = sa.create_engine(
        url,
        # A failed statement's parameters (payloads, addresses, push tokens) would
        # otherwise be part of its exception's text, and so of every log of it.
        hide_parameters=True,
        pool_size=8,
        max_overflow=24,
        pool_timeout=busy_timeout,
        connect_args={"timeout": busy_timeout},
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # Hand transaction control to the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def reader(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that only read."""
    return engine.execution_options(**{_READ_ONLY: True})


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


Insert = postgresql.Insert | sqlite.Insert


def insert(conn: Connection, table: sa.Table) -> Insert:
    """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
    make: Callable[[sa.Table], Insert] = postgresql.insert if is_postgres(conn) else sqlite.insert
    return make(table)
