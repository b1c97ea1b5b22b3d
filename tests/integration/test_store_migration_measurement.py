"""Migration 0004 on a database with data: messages keep their rows (outside any test),
the in-app partial index survives, and it downgrades and upgrades again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from clarion.store.migrations import alembic_config
from clarion.store.sql.dialects import create_engine

ROW = {
    "guid": "G1",
    "event_id": "e1",
    "profile_id": "p1",
    "message": "m",
    "message_id": 1,
    "category": "c",
    "channel": "inapp",
    "step": 0,
    "status": "sent",
    "created_at": 1.0,
    "updated_at": 1.0,
    "attempts": 1,
    "devices": "[]",
    "cancel_on": "[]",
}


def _to(url: str, revision: str, downgrade: bool = False) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            (command.downgrade if downgrade else command.upgrade)(config, revision)
    finally:
        engine.dispose()


def test_0004_keeps_messages_and_round_trips(fresh_db_url: str) -> None:
    _to(fresh_db_url, "0003")
    engine = sa.create_engine(fresh_db_url)
    try:
        with engine.begin() as conn:
            columns = ", ".join(ROW)
            marks = ", ".join(f":{k}" for k in ROW)
            conn.execute(sa.text(f"INSERT INTO messages ({columns}) VALUES ({marks})"), ROW)
        _to(fresh_db_url, "0004")
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT guid, status, ab_test_id, ab_test_cell FROM messages")
            ).one()
            assert tuple(row) == ("G1", "sent", None, None)
            inspector = sa.inspect(conn)
            assert {"exposures", "conversions"} <= set(inspector.get_table_names())
            indexes = {i["name"] for i in inspector.get_indexes("messages")}
            assert "ix_messages_inapp_live" in indexes
        _to(fresh_db_url, "0003", downgrade=True)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert "exposures" not in inspector.get_table_names()
            assert "ab_test_id" not in {c["name"] for c in inspector.get_columns("messages")}
            assert conn.execute(sa.text("SELECT guid FROM messages")).scalar_one() == "G1"
        _to(fresh_db_url, "head")
    finally:
        engine.dispose()
