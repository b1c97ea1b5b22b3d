"""Writers on one SQLite file queue on ``WriterLock`` instead of SQLite's busy polling."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from clarion.core.model import Event
from clarion.store import SqlStore, migrate
from clarion.store.sql.dialects import dialect_for
from clarion.store.sql.writer import WriterLock

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_concurrent_writers_of_two_stores_on_one_file_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrate(url)
    stores = [SqlStore(url), SqlStore(url)]  # as two processes would have
    failures: list[BaseException] = []

    def write(store: SqlStore, prefix: str) -> None:
        try:
            for n in range(20):
                events = [Event(f"{prefix}-{n}-{k}", "x", "p", T0) for k in range(20)]
                store.accept_events(events, T0)
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=write, args=(store, f"{i}-{j}"))
        for i, store in enumerate(stores)
        for j in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    stores[0].hold_partitions("w", T0, timedelta(seconds=30))
    assert len(stores[0].claim_events(10_000, T0, T0 - T0, "w")) == 6 * 20 * 20
    for store in stores:
        store.close()


def test_a_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    first, second = WriterLock(str(tmp_path / "db"), 5.0), WriterLock(str(tmp_path / "db"), 5.0)
    order: list[str] = []

    def other() -> None:
        with second:
            order.append("second")

    with first:
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.2)  # the other thread is blocked in the meantime
        order.append("first")
    thread.join()
    assert order == ["first", "second"]
    first.close()
    second.close()


def test_waiting_past_the_timeout_is_the_database_being_locked(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db"), 0.05)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError, match="database is locked"), lock:
        pass
    assert time.monotonic() - started < 2
    release.set()
    thread.join()
    lock.close()


def test_postgres_needs_no_lock() -> None:
    engine = sa.create_engine("postgresql+psycopg://u@127.0.0.1:1/x")
    assert not isinstance(dialect_for(engine.url).writer_lock(engine, 1.0), WriterLock)
