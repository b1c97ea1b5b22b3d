"""Exposures keep the held-out share they were decided under (sample-ratio checks).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Nullable: earlier rows did not record it, and reports fall back to the catalog's.
    op.add_column("exposures", sa.Column("holdout", sa.Double))


def downgrade() -> None:
    op.drop_column("exposures", "holdout")
