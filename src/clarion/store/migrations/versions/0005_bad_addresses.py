"""Bad addresses per profile, and messages found by their provider reference.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "bad_addresses",
        sa.Column("profile_id", sa.String, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String, primary_key=True),
        sa.Column("code", sa.String, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
    )
    op.create_index("ix_messages_provider_ref", "messages", ["provider_ref"])


def downgrade() -> None:
    op.drop_index("ix_messages_provider_ref", table_name="messages")
    op.drop_table("bad_addresses")
