"""Schema migrations (Alembic), run in-process: ``migrate(url)`` upgrades to the latest.

No ``alembic.ini`` is needed at runtime. To write a new revision during
development::

    .venv/bin/alembic -c src/clarion/store/migrations/alembic.ini \\
        -x url=sqlite:///var/dev.db revision --autogenerate -m "what changed"
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from clarion.store.sql.dialects import create_engine, dialect_of

_HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """An Alembic config for the packaged migrations, built in code."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the latest schema; a no-op when it is current.

    Runs in one transaction: on PostgreSQL under an advisory lock, on SQLite
    under ``BEGIN IMMEDIATE``, so processes starting together migrate once.
    """
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            dialect_of(conn).lock_schema(conn)
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
