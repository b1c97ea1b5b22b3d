"""Migrations: ``migrate()`` builds the schema on a fresh database and is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from clarion.core.model import LIVE_INAPP, Channel
from clarion.store import SqlStore, migrate, open_store
from clarion.store.migrations import alembic_config
from clarion.store.schema import (
    LIVE_INAPP_CHANNEL,
    LIVE_INAPP_STATUSES,
    LIVE_INAPP_WHERE,
    metadata,
)
from clarion.store.sql.inapp import _LIVE

# An index's name and columns are as the inspector reports them (None for an expression).
Indexes = dict[str | None, list[str | None]]


def _inspect(url: str) -> tuple[set[str], dict[str, Indexes], list[str]]:
    """Tables, their indexes (name → columns), and the Alembic version."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = set(inspector.get_table_names())
            indexes = {
                table: {i["name"]: i["column_names"] for i in inspector.get_indexes(table)}
                for table in tables
            }
            version: list[str] = []
            if "alembic_version" in tables:
                query = sa.text("SELECT version_num FROM alembic_version")
                version = list(conn.execute(query).scalars())
    finally:
        engine.dispose()
    return tables, indexes, version


def test_migrate_builds_the_schema_and_is_idempotent(fresh_db_url: str) -> None:
    migrate(fresh_db_url)
    migrate(fresh_db_url)

    tables, indexes, version = _inspect(fresh_db_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert version == [head] == ["0015"]
    for table in metadata.sorted_tables:
        assert table.name in tables
        wanted = {i.name: [c.name for c in i.columns] for i in table.indexes}
        assert indexes[table.name] == wanted, table.name


def test_the_migrations_build_exactly_the_schema_the_store_uses(fresh_db_url: str) -> None:
    migrate(fresh_db_url)
    engine = sa.create_engine(fresh_db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_the_live_inapp_index_holds_exactly_the_live_inapp_messages() -> None:
    assert Channel.INAPP.value == LIVE_INAPP_CHANNEL
    assert sorted(LIVE_INAPP_STATUSES) == sorted(s.value for s in LIVE_INAPP)
    statuses = ", ".join(f"'{s}'" for s in LIVE_INAPP_STATUSES)
    assert f"channel = '{LIVE_INAPP_CHANNEL}' AND status IN ({statuses})" == LIVE_INAPP_WHERE


def test_a_device_fetch_reads_the_partial_index(tmp_path: Path) -> None:
    # SQLite uses a partial index only when the query repeats its predicate with
    # the same literals: a bound parameter for the channel would lose it silently.
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate(url)
    store = SqlStore(url)
    try:
        with store.engine.connect() as conn:
            compiled = _LIVE.compile(dialect=conn.dialect)
            params = compiled.construct_params({"profile_id": "p1", "now": 0.0, "limit": 50})
            assert params is not None
            values = tuple(params[name] for name in compiled.positiontup or ())
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", values).all()
    finally:
        store.close()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_messages_inapp_live" in details, details
    assert "TEMP B-TREE" not in details, details


def test_open_store_connects_without_migrating(fresh_db_url: str) -> None:
    store = open_store(fresh_db_url)
    try:
        store.ping()
    finally:
        store.close()

    tables, _, _ = _inspect(fresh_db_url)
    assert "events" not in tables


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    migrate(url)
    store = SqlStore(url, sqlite_synchronous="full")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        store.close()


def test_unusable_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        SqlStore("sqlite://")
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        SqlStore("sqlite:///x.db", sqlite_synchronous="SOMETIMES")
    with pytest.raises(ValueError, match="unsupported"):
        SqlStore("mysql://localhost/x")
