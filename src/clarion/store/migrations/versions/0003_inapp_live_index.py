"""A partial index of live in-app messages by profile, for device fetches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

#: As ``clarion.store.schema.LIVE_INAPP_WHERE`` when this revision was written.
_WHERE = "channel = 'inapp' AND status IN ('delivered', 'sent')"


def upgrade() -> None:
    op.create_index(
        "ix_messages_inapp_live",
        "messages",
        ["profile_id", "created_at", "guid"],
        sqlite_where=sa.text(_WHERE),
        postgresql_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_inapp_live", table_name="messages")
