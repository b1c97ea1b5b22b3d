"""Experiments and holdouts: the A/B cell of each message, exposures and conversions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both dialects: no table rebuild, the partial index stays.
    op.add_column("messages", sa.Column("ab_test_id", sa.Integer))
    op.add_column("messages", sa.Column("ab_test_cell", sa.Integer))
    op.create_table(
        "exposures",
        sa.Column("guid", sa.String(40), primary_key=True),
        sa.Column("event_id", sa.String, nullable=False),
        sa.Column("profile_id", sa.String, nullable=False),
        sa.Column("message", sa.String, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("arm", sa.String(16), nullable=False),
        sa.Column("ab_test_id", sa.Integer),
        sa.Column("ab_test_cell", sa.Integer),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("goal_event", sa.String, nullable=False),
        sa.Column("goal_until", sa.Double, nullable=False),
    )
    op.create_index("ix_exposures_goal", "exposures", ["profile_id", "goal_event", "goal_until"])
    op.create_index("ix_exposures_message", "exposures", ["message", "created_at"])
    op.create_table(
        "conversions",
        sa.Column("guid", sa.String(40), primary_key=True),
        sa.Column("profile_id", sa.String, nullable=False),
        sa.Column("message", sa.String, nullable=False),
        sa.Column("goal_event_id", sa.String, nullable=False),
        sa.Column("converted_at", sa.Double, nullable=False),
        sa.Column("recorded_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversions")
    op.drop_index("ix_exposures_message", table_name="exposures")
    op.drop_index("ix_exposures_goal", table_name="exposures")
    op.drop_table("exposures")
    op.drop_column("messages", "ab_test_cell")
    op.drop_column("messages", "ab_test_id")
