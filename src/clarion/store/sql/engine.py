"""What every store engine shares: its time bounds, how JSON is written, the URL's
driver, and read-only transactions. Each database's engine is made by its
dialect (``clarion.store.sql.dialects``: SQLite's file setup and write lock,
PostgreSQL's pool and watchdog).

Every wait on the database is bounded (``Timeouts``), so that a database that
stops answering costs a request a 503 within about two seconds rather than
hanging it for as long as the outage lasts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

#: Execution option that marks an engine's transactions as read-only (see ``reader``).
READ_ONLY = "clarion_read_only"


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


def json_bytes(value: object) -> bytes:
    return orjson.dumps(value, default=_json_default)


def json_text(value: object) -> str:
    """``value`` as JSON text, the way the store writes every JSON column."""
    return json_bytes(value).decode()


def normalize_url(url: str) -> sa.URL:
    """The URL with PostgreSQL pinned to psycopg 3, the driver Clarion ships with."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def reader(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that only read."""
    return engine.execution_options(**{READ_ONLY: True})
