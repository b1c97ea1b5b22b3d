"""Alembic environment: runs on the connection ``migrate()`` passes in, or on
``-x url=...`` (or ``sqlalchemy.url``) when invoked from the alembic command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from clarion.store.schema import metadata
from clarion.store.sql.dialects import create_engine, dialect_of
from clarion.store.sql.engine import normalize_url


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database: alembic ... -x url=sqlite:///path/to.db")
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; autogenerate must emit batch ops.
        render_as_batch=dialect_of(connection).alters_by_copy,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        context.configure(url=normalize_url(_url()), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
