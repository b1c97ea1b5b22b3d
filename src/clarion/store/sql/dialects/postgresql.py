"""PostgreSQL: psycopg 3 with a pool shared by the API and worker threads,
concurrent writers kept apart by row and advisory locks.

Batches: the whole batch goes as one JSON parameter that the server unpacks
with ``json_populate_recordset``: orjson and PostgreSQL's JSON parser are both
C, and the statement stays short. The alternative, a multi-row ``VALUES`` of
1,000 messages, carries ~18,000 parameters that PostgreSQL spends ~130 ms
parsing and planning; the JSON batch takes ~15 ms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from clarion.core.model import Status
from clarion.store.sql.dialects.base import Insert, Rows, SqlDialect
from clarion.store.sql.engine import Timeouts, json_bytes, json_text
from clarion.store.sql.watchdog import Watchdog

_SENDING = Status.SENDING.value

#: First key of the two-key advisory locks on provider references (the second is
#: the reference's hash); two-key locks never conflict with one-key ones.
_LOCK_CLASS = 0x434C52

#: The key of the one-key advisory lock that migrations take.
_SCHEMA_LOCK_KEY = 0x436C6172696F6E  # "Clarion"

_LOCK_REFS = sa.text(
    """
    SELECT pg_advisory_xact_lock(:cls, k)
    FROM (SELECT DISTINCT hashtext(r) AS k FROM unnest(CAST(:refs AS text[])) AS r
          ORDER BY k) AS s
    """
)


def batch(alias: str) -> str:
    """SQL for a JSON batch parameter ``:rows`` read as rows of table ``alias``."""
    return f"json_populate_recordset(NULL::{alias}, CAST(:rows AS json))"


_END_LEASES = sa.text(
    f"""
    UPDATE messages AS m SET
        status = v.status,
        reason = v.reason,
        due_at = COALESCE(v.due_at, m.due_at),
        provider = COALESCE(v.provider, m.provider),
        provider_ref = COALESCE(v.provider_ref, m.provider_ref),
        attempts = COALESCE(v.attempts, m.attempts),
        lease_owner = NULL,
        lease_until = NULL,
        updated_at = v.updated_at
    FROM {batch("messages")} AS v
    WHERE m.guid = v.guid AND m.status = '{_SENDING}' AND m.lease_owner = v.lease_owner
    RETURNING m.guid, v.lease_owner
    """
)


class PostgreSQL(SqlDialect):
    name = "postgresql"
    prefers_inline_reads = False
    alters_by_copy = False

    def create_engine(self, url: sa.URL, synchronous: str, timeouts: Timeouts) -> Engine:
        statement_ms = max(1, int(timeouts.call * 1000))
        engine = sa.create_engine(
            url,
            hide_parameters=True,  # see the SQLite engine's
            pool_size=10,
            max_overflow=10,
            pool_timeout=timeouts.request,
            connect_args={
                "connect_timeout": max(2, timeouts.connect),
                # The server cancels a runaway statement itself (and keeps the connection).
                "options": f"-c statement_timeout={statement_ms}",
            },
            json_serializer=json_bytes,  # psycopg takes bytes and skips a decode
            json_deserializer=orjson.loads,
        )
        # A second more than the server's statement_timeout: a slow statement is
        # cancelled by a running server (keeping the connection), a frozen one is cut.
        watchdog = Watchdog(timeouts.call + 1.0, connect_timeout=max(2, timeouts.connect))
        watchdog.install(engine)
        return engine

    def writer_lock(self, engine: Engine, timeout: float) -> AbstractContextManager[None]:
        return nullcontext()  # writers run concurrently, kept apart by row locks

    def lock_schema(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_KEY})")

    def insert(self, table: sa.Table) -> Insert:
        return postgresql.insert(table)

    def insert_new(self, conn: Connection, table: sa.Table, rows: Rows, key: str) -> set[str]:
        if not rows:
            return set()
        stmt = _insert(table.name, tuple(rows[0]), key)
        return set(conn.execute(stmt, {"rows": json_text(rows)}).scalars())

    def append(self, conn: Connection, table: sa.Table, rows: Rows) -> None:
        if rows:
            conn.execute(_insert(table.name, tuple(rows[0]), None), {"rows": json_text(rows)})

    def end_leases(
        self, conn: Connection, rows: Sequence[Mapping[str, object]]
    ) -> set[tuple[str, str]]:
        result = conn.execute(_END_LEASES, {"rows": json_text(rows)})
        return {(guid, owner) for guid, owner in result}

    def lock_refs(self, conn: Connection, refs: Sequence[str]) -> bool:
        # Locks are taken in hash order, so two transactions cannot deadlock on them.
        if not refs:
            return False
        conn.execute(_LOCK_REFS, {"cls": _LOCK_CLASS, "refs": list(refs)})
        return True

    def floor(self, value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # PostgreSQL rounds a double cast to integer: floor first.
        return sa.cast(sa.func.floor(value), sa.BigInteger)

    def first_part(self, text: sa.ColumnElement[Any], sep: str) -> sa.ColumnElement[Any]:
        return sa.func.split_part(text, sep, 1)

    def last_part(self, text: sa.ColumnElement[Any], sep: str) -> sa.ColumnElement[Any]:
        return sa.func.regexp_replace(text, f"^.*{sep}", "")

    def fetch(self, driver: Any, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        # psycopg would open a transaction for the SELECT (BEGIN), and the pool end it
        # (ROLLBACK, a round trip of its own): in autocommit the statement is its own.
        autocommit = not driver.autocommit
        if autocommit:
            driver.autocommit = True
        cursor = driver.cursor()
        try:
            cursor.execute(sql, params)
            rows: list[Any] = cursor.fetchall()
        finally:
            cursor.close()
            if autocommit:
                driver.autocommit = False
        return rows

    def json_value(self, value: Any) -> Any:
        return value  # psycopg decodes JSON with the engine's json_deserializer


@lru_cache(maxsize=64)
def _insert(table: str, columns: tuple[str, ...], key: str | None) -> sa.TextClause:
    names = ", ".join(columns)
    sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM {batch(table)}"
    if key is not None:
        sql += f" ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
    return sa.text(sql)
