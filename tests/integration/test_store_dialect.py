"""The one seam between SQLite and PostgreSQL (``clarion.store.sql.dialects``): each
spelling gives the same answer on both, and the choice is made from the URL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from clarion.store.sql import SqlStore
from clarion.store.sql.dialects import create_engine, dialect_for
from clarion.store.sql.engine import normalize_url


def _value(store: SqlStore, expression: sa.ColumnElement[Any]) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(expression)).scalar_one()


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("provider_rejected:twilio:30003", "provider_rejected", "30003"),
        ("frequency_capped:global:6/1d", "frequency_capped", "6/1d"),
        ("delivered", "delivered", "delivered"),
        ("trailing:", "trailing", ""),
    ],
)
def test_both_databases_split_text_alike(store: SqlStore, text: str, first: str, last: str) -> None:
    dialect = dialect_for(store.engine.url)
    literal = sa.literal(text, sa.String)
    assert _value(store, dialect.first_part(literal, ":")) == first
    assert _value(store, dialect.last_part(literal, ":")) == last


@pytest.mark.parametrize(
    ("value", "floor"), [(2.0, 2), (2.7, 2), (1_700_000_000.99, 1_700_000_000)]
)
def test_both_databases_floor_positive_values_alike(
    store: SqlStore, value: float, floor: int
) -> None:
    dialect = dialect_for(store.engine.url)
    assert _value(store, dialect.floor(sa.literal(value, sa.Float))) == floor


def test_only_sqlite_prefers_reads_inline(store: SqlStore) -> None:
    # A local file answers faster than a hop to a thread; a server does not.
    assert store.prefers_inline_reads is (store.dialect == "sqlite")
    assert dialect_for(normalize_url("sqlite:///x.db")).prefers_inline_reads
    assert not dialect_for(normalize_url("postgresql://u@h/db")).prefers_inline_reads


def test_an_unsupported_database_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        create_engine("mysql://u@h/db")


def test_sqlite_needs_a_file() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        create_engine("sqlite:///:memory:")
