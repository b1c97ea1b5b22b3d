"""Migration 0011 on a database with events: the ones not yet decided get the
partition intake would give them (by account, else profile); it round-trips."""

from __future__ import annotations

import sqlalchemy as sa

from clarion.core.partitions import partition_key, partition_of
from tests.integration.test_store_migration_measurement import _to


def _event(event_id: str, profile_id: str, account_id: str | None, state: str) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "t",
        "profile_id": profile_id,
        "account_id": account_id,
        "occurred_at": 1.0,
        "received_at": 1.0,
        "seq": 1,
        "payload": "{}",
        "state": state,
    }


def test_0015_gives_open_events_their_partition_and_round_trips(fresh_db_url: str) -> None:
    _to(fresh_db_url, "0010")
    engine = sa.create_engine(fresh_db_url)
    rows = [
        _event("own", "p-alone", None, "pending"),
        _event("named", "p-any", "acct-1", "processing"),
        _event("stored", "p-member", None, "pending"),  # its profile is in acct-2
        _event("old", "p-alone", None, "done"),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO profiles (id, account_id, locale, timezone, attributes,"
                    " opt_out_channels, opt_out_categories, created_at, updated_at) VALUES"
                    " ('p-member', 'acct-2', 'en', 'UTC', '{}', '[]', '[]', 1, 1)"
                )
            )
            columns = ", ".join(rows[0])
            marks = ", ".join(f":{k}" for k in rows[0])
            conn.execute(sa.text(f"INSERT INTO events ({columns}) VALUES ({marks})"), rows)
        _to(fresh_db_url, "0015")
        with engine.connect() as conn:
            found: dict[str, int] = dict(
                conn.execute(sa.text('SELECT id, "partition" FROM events')).all()
            )
        assert found == {
            "own": partition_of(partition_key("p-alone", None)),
            "named": partition_of(partition_key("p-any", "acct-1")),
            "stored": partition_of(partition_key("p-member", "acct-2")),
            "old": 0,  # decided already: nothing reads it
        }
        _to(fresh_db_url, "0010", downgrade=True)
        with engine.connect() as conn:
            columns_left = {c["name"] for c in sa.inspect(conn).get_columns("events")}
            assert "partition" not in columns_left
            assert "partition_leases" not in sa.inspect(conn).get_table_names()
        _to(fresh_db_url, "head")
    finally:
        engine.dispose()
