"""Events whose processing failed: how many attempts, the last error, and the ``dead`` state.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.String))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("last_error")
        batch.drop_column("attempts")
