"""Exposures keep the held-out share they were decided under (sample-ratio checks).

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Nullable: earlier rows did not record it, and reports fall back to the catalog's.
    op.add_column("exposures", sa.Column("holdout", sa.Double))


def downgrade() -> None:
    op.drop_column("exposures", "holdout")
