"""Escalation ladders (ladder, rung, confirm_by) and the country of each message
for delivery insights, with their indexes.

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

#: As ``clarion.store.schema.LADDER_OPEN_WHERE`` when this revision was written.
_OPEN = "confirm_by IS NOT NULL"
_LADDER = "ladder IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("country", sa.String))
        batch.add_column(sa.Column("ladder", sa.String(40)))
        batch.add_column(sa.Column("rung", sa.Integer))
        batch.add_column(sa.Column("confirm_by", sa.Double))
    op.create_index("ix_messages_created", "messages", ["created_at"])
    op.create_index(
        "ix_messages_ladder_open",
        "messages",
        ["status", "confirm_by"],
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_index(
        "ix_messages_ladder",
        "messages",
        ["ladder"],
        sqlite_where=sa.text(_LADDER),
        postgresql_where=sa.text(_LADDER),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_ladder", table_name="messages")
    op.drop_index("ix_messages_ladder_open", table_name="messages")
    op.drop_index("ix_messages_created", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for column in ("confirm_by", "rung", "ladder", "country"):
            batch.drop_column(column)
