"""The store's bounds on a database call (issue 11, item 4): a call past its budget
has its PostgreSQL connection closed under it, the pool goes on with fresh ones,
and calls outside a request keep the longer default budget."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from clarion.observability import REGISTRY
from clarion.store import UNAVAILABLE, SqlStore, Timeouts, call_budget


def _sleep(store: SqlStore, seconds: float) -> None:
    with store.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_sleep(:s)"), {"s": seconds})


@pytest.mark.postgres
def test_a_call_past_its_budget_is_abandoned_and_the_pool_recovers(pg_database: str) -> None:
    store = SqlStore(pg_database, timeouts=Timeouts(request=0.3, call=30.0))
    try:
        before = _abandoned()
        started = time.monotonic()
        with call_budget(0.3), pytest.raises(UNAVAILABLE):
            _sleep(store, 20)
        # Abandoned long before the statement would have ended (generous: a busy
        # machine may be slow to run the watchdog, never 20 s slow).
        assert time.monotonic() - started < 15
        assert _abandoned() == before + 1
        with call_budget(0.3):
            store.ping()  # a fresh connection
        # The driver-level reads (in-app fetches) fail the same way.
        with call_budget(0.3), pytest.raises(UNAVAILABLE), store._driver() as driver:
            driver.execute("SELECT pg_sleep(20)")
    finally:
        store.close()


@pytest.mark.postgres
def test_calls_outside_a_request_keep_the_longer_budget(pg_database: str) -> None:
    store = SqlStore(pg_database, timeouts=Timeouts(request=0.2, call=30.0))
    try:
        _sleep(store, 0.6)  # a worker's batch may take longer than a request may
    finally:
        store.close()


@pytest.mark.postgres
def test_the_server_cancels_a_statement_past_the_call_timeout(pg_database: str) -> None:
    store = SqlStore(pg_database, timeouts=Timeouts(call=0.5))
    try:
        with pytest.raises(UNAVAILABLE, match="statement timeout"):
            _sleep(store, 20)
        store.ping()
    finally:
        store.close()


def _abandoned() -> float:
    return REGISTRY.get_sample_value("clarion_database_calls_abandoned_total") or 0.0
