"""In-app state (impressions, actions, read/archived) and dismissal suppressions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "inapp_state",
        sa.Column("guid", sa.String(40), primary_key=True),
        sa.Column("profile_id", sa.String, nullable=False),
        sa.Column("impressions", sa.Integer, nullable=False),
        sa.Column("first_seen_at", sa.Double),
        sa.Column("last_seen_at", sa.Double),
        sa.Column("acted_at", sa.Double),
        sa.Column("action", sa.String),
        sa.Column("read_at", sa.Double),
        sa.Column("archived_at", sa.Double),
    )
    op.create_index("ix_inapp_state_profile", "inapp_state", ["profile_id"])
    op.create_table(
        "suppressions",
        sa.Column("profile_id", sa.String, primary_key=True),
        sa.Column("message", sa.String, primary_key=True),
        sa.Column("until", sa.Double, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("all_channels", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index("ix_inapp_state_profile", table_name="inapp_state")
    op.drop_table("inapp_state")
