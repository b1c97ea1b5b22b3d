"""Delivery reports that arrive before their message's provider reference is stored.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "early_reports",
        sa.Column("provider_ref", sa.String, primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("reason", sa.String),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("bad_kind", sa.String(16)),
        sa.Column("bad_value", sa.String),
        sa.Column("bad_code", sa.String),
        sa.Column("at", sa.Double, nullable=False),
    )
    op.create_index("ix_early_reports_at", "early_reports", ["at"])


def downgrade() -> None:
    op.drop_index("ix_early_reports_at", table_name="early_reports")
    op.drop_table("early_reports")
