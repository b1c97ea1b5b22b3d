"""Fixtures shared by the suites: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests use a database created for the session (``clarion_test_<hex>``,
dropped at the end) and emptied before each test. Without a reachable server
they are skipped, except in CI (``CI`` set), where that is a failure.

With ``CI`` set, Hypothesis runs the ``ci`` profile: the same examples on every run
(derandomized, no example database replaying an earlier run's failures) and no
time limits (no per-example deadline, no "too slow" health check), so a loaded
machine cannot fail a property test that holds.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from clarion.store import SqlStore, migrate
from clarion.store.schema import metadata

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

PG_SERVER = os.environ.get("CLARION_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


class PgServer:
    """The test PostgreSQL server, through its ``postgres`` maintenance database."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.admin = sa.create_engine(
            f"{base}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
        )

    def create(self) -> str:
        name = f"clarion_test_{secrets.token_hex(6)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return f"{self.base}/{name}"

    def drop(self, url: str) -> None:
        name = sa.make_url(url).database
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer(PG_SERVER)
    try:
        with server.admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        where = sa.make_url(PG_SERVER)
        message = f"PostgreSQL not reachable at {where.host}:{where.port or 5432}: {exc.orig}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A database for the whole session; tests empty it rather than recreate it."""
    url = pg_server.create()
    yield url
    pg_server.drop(url)


def _empty(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            present = [t.name for t in metadata.sorted_tables if sa.inspect(conn).has_table(t.name)]
            if present:
                conn.exec_driver_sql(f"TRUNCATE {', '.join(present)} RESTART IDENTITY")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clarion.db'}"
    url: str = request.getfixturevalue("pg_database")
    _empty(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database never migrated: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.create()
    yield url
    server.drop(url)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    migrate(db_url)
    opened = SqlStore(db_url)
    yield opened
    opened.close()
