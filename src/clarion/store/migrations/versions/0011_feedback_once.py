"""In-app feedback acts once (``feedback_receipts``), and the end of a dismissal is
found by its time (``ix_suppressions_until``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_receipts",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("guid", sa.String(40), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
    )
    op.create_index("ix_feedback_receipts_expires_at", "feedback_receipts", ["expires_at"])
    op.create_index("ix_suppressions_until", "suppressions", ["until"])


def downgrade() -> None:
    op.drop_index("ix_suppressions_until", table_name="suppressions")
    op.drop_index("ix_feedback_receipts_expires_at", table_name="feedback_receipts")
    op.drop_table("feedback_receipts")
