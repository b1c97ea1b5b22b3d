"""Batches: splitting long id lists, and writing many rows in one statement,
each dialect its fastest way.

PostgreSQL gets the whole batch as one JSON parameter that the server unpacks
with ``json_populate_recordset``: orjson and PostgreSQL's JSON parser are both
C, and the statement stays short. The alternative, a multi-row ``VALUES`` of
1,000 messages, carries ~18,000 parameters that PostgreSQL spends ~130 ms
parsing and planning; the JSON batch takes ~15 ms. SQLite parses long
statements cheaply and its driver runs ``executemany`` in C, so it gets plain
statements, with rows as tuples straight to the driver: SQLAlchemy's own
per-row parameter handling would cost more than SQLite's work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.store.sql.engine import is_postgres, json_text

Rows = Sequence[Mapping[str, object]]
T = TypeVar("T")

#: Ids per ``IN (...)`` list: far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_new(conn: Connection, table: sa.Table, rows: Rows, key: str) -> set[str]:
    """Insert the rows whose ``key`` is not taken yet; the keys inserted.

    Every row has the same columns; the others take their defaults."""
    if not rows:
        return set()
    columns = tuple(rows[0])
    if is_postgres(conn):
        stmt = _pg_insert(table.name, columns, key)
        return set(conn.execute(stmt, {"rows": json_text(rows)}).scalars())
    # BEGIN IMMEDIATE holds the write lock, so what is absent now is ours to insert.
    column = table.c[key]
    taken: set[str] = set()
    for keys in chunked(list({str(row[key]) for row in rows})):
        taken.update(conn.execute(sa.select(column).where(column.in_(keys))).scalars())
    new: dict[str, Mapping[str, object]] = {}
    for row in rows:
        if row[key] not in taken:
            new.setdefault(str(row[key]), row)
    _sqlite_executemany(conn, table, columns, list(new.values()))
    return set(new)


def append(conn: Connection, table: sa.Table, rows: Rows) -> None:
    """Insert every row (all with the same columns)."""
    if not rows:
        return
    columns = tuple(rows[0])
    if is_postgres(conn):
        conn.execute(_pg_insert(table.name, columns, None), {"rows": json_text(rows)})
    else:
        _sqlite_executemany(conn, table, columns, rows)


def pg_batch(alias: str) -> str:
    """SQL for a JSON batch parameter ``:rows`` read as rows of table ``alias``."""
    return f"json_populate_recordset(NULL::{alias}, CAST(:rows AS json))"


@lru_cache(maxsize=64)
def _pg_insert(table: str, columns: tuple[str, ...], key: str | None) -> sa.TextClause:
    names = ", ".join(columns)
    sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM {pg_batch(table)}"
    if key is not None:
        sql += f" ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
    return sa.text(sql)


def _sqlite_executemany(
    conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: Rows
) -> None:
    if not rows:
        return
    sql, json_columns = _sqlite_insert(table, columns)
    params = []
    for row in rows:
        values = [row[name] for name in columns]
        for i in json_columns:
            values[i] = json_text(values[i])
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


@lru_cache(maxsize=64)
def _sqlite_insert(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
    """The INSERT for ``columns`` of ``table``, and which of them hold JSON."""
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    json_columns = tuple(
        i for i, name in enumerate(columns) if isinstance(table.c[name].type, sa.JSON)
    )
    return sql, json_columns
