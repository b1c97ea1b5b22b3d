"""What differs between SQLite and PostgreSQL, as one object per database.

Every query module writes one statement for both databases where SQLAlchemy can
(``with_for_update`` is dropped by SQLite's compiler, for one). Where the two
need different SQL or a different strategy, the module asks the connection's
``SqlDialect`` (``dialect_of``) instead of testing the database's name, so the
differences sit side by side in ``dialects.sqlite`` and ``dialects.postgresql``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from clarion.store.sql.engine import Timeouts

Rows = Sequence[Mapping[str, object]]
#: The INSERT of either database, which has ``on_conflict_do_nothing/do_update``.
Insert = postgresql.Insert | sqlite.Insert


class SqlDialect(ABC):
    """One database's engine, locking, batch writes and SQL spellings."""

    #: SQLAlchemy's name of the database (``engine.dialect.name``).
    name: ClassVar[str]
    #: Whether the API runs the store's one-statement in-app reads on the event
    #: loop rather than in a thread: a local SQLite file answers in about 100 us,
    #: less than a hop to the thread pool costs; a network round trip does not.
    prefers_inline_reads: ClassVar[bool]
    #: Whether ALTER TABLE rebuilds the table (SQLite), so Alembic must write
    #: migrations as batch operations.
    alters_by_copy: ClassVar[bool]

    # Engine
    @abstractmethod
    def create_engine(self, url: sa.URL, synchronous: str, timeouts: Timeouts) -> Engine:
        """The engine, its pool and connection setup, for ``url``."""

    @abstractmethod
    def writer_lock(self, engine: Engine, timeout: float) -> AbstractContextManager[None]:
        """What to hold around each write transaction (``writer``)."""

    @abstractmethod
    def lock_schema(self, conn: Connection) -> None:
        """Make processes that start together migrate one after the other (in
        ``conn``'s transaction, which is ``clarion.store.migrate``'s)."""

    # Writes
    @abstractmethod
    def insert(self, table: sa.Table) -> Insert:
        """An INSERT into ``table`` that has ``on_conflict_do_nothing/do_update``."""

    @abstractmethod
    def insert_new(self, conn: Connection, table: sa.Table, rows: Rows, key: str) -> set[str]:
        """Insert the rows whose ``key`` is not taken yet; the keys inserted.

        Every row has the same columns; the others take their defaults."""

    @abstractmethod
    def append(self, conn: Connection, table: sa.Table, rows: Rows) -> None:
        """Insert every row (all with the same columns)."""

    @abstractmethod
    def end_leases(
        self, conn: Connection, rows: Sequence[Mapping[str, object]]
    ) -> set[tuple[str, str]]:
        """Apply dispatch verdicts (``dispatch.apply_transitions``' rows) to the
        sending messages still leased to each row's ``lease_owner``: set the
        status, end the lease; a retry moves the due time, the others keep it
        and keep an earlier provider reference when they carry none. The
        (guid, lease owner) pairs applied."""

    @abstractmethod
    def lock_refs(self, conn: Connection, refs: Sequence[str]) -> bool:
        """Serialize with other transactions on these provider references
        (``early_reports``); whether this may have waited for one, so that what
        the references guard must be read again."""

    # Spellings
    @abstractmethod
    def floor(self, value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``value`` (positive) rounded down to an integer."""

    @abstractmethod
    def first_part(self, text: sa.ColumnElement[Any], sep: str) -> sa.ColumnElement[Any]:
        """``text`` up to its first ``sep`` (all of it without one)."""

    @abstractmethod
    def last_part(self, text: sa.ColumnElement[Any], sep: str) -> sa.ColumnElement[Any]:
        """``text`` after its last ``sep`` (all of it without one)."""

    def range_column(
        self, conn: Connection, column: sa.ColumnElement[float], since: float, until: float
    ) -> sa.ColumnElement[float]:
        """``column`` as a filter on ``[since, until)`` should name it (planner hints)."""
        return column

    # Driver-level reads (``inapp``)
    @abstractmethod
    def fetch(self, driver: Any, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        """The rows of one SELECT run on a pooled ``driver`` connection, outside
        any transaction (one statement reads one snapshot either way)."""

    @abstractmethod
    def json_value(self, value: Any) -> Any:
        """A JSON column's value as the driver returns it, decoded."""
