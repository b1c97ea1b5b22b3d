"""Migration 0013 on a database with bad addresses: a landline recorded as a bad phone
becomes an SMS-only limit (the voice fallback reaches it again), a handset that was
off gets an end, an invalid number stays bad; it downgrades and upgrades again."""

from __future__ import annotations

import sqlalchemy as sa

from clarion.store.sql.dialects import create_engine
from tests.integration.test_store_migration_measurement import _to

ROWS = [
    {"profile_id": "p1", "kind": "phone", "value": "+1", "code": "twilio:30006", "at": 100.0},
    {"profile_id": "p2", "kind": "phone", "value": "+2", "code": "twilio:30003", "at": 100.0},
    {"profile_id": "p3", "kind": "phone", "value": "+3", "code": "twilio:21211", "at": 100.0},
]


def _rows(url: str) -> list[tuple[str, str, float | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT profile_id, kind, until FROM bad_addresses ORDER BY profile_id")
            return [tuple(row) for row in conn.execute(query)]
    finally:
        engine.dispose()


def test_old_bad_numbers_become_what_they_cannot_do(fresh_db_url: str) -> None:
    db_url = fresh_db_url
    _to(db_url, "0010")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO bad_addresses (profile_id, kind, value, code, at)"
                    " VALUES (:profile_id, :kind, :value, :code, :at)"
                ),
                ROWS,
            )
    finally:
        engine.dispose()

    _to(db_url, "0013")

    assert _rows(db_url) == [
        ("p1", "sms", None),
        ("p2", "sms", 100.0 + 12 * 3600),
        ("p3", "phone", None),
    ]
    _to(db_url, "0010", downgrade=True)
    _to(db_url, "0013")
    assert [kind for _, kind, _ in _rows(db_url)] == ["sms", "sms", "phone"]
