"""Partitions of profiles under leases: ``events.partition``, ``partition_leases``
and ``partition_workers`` (one decider per profile across workers).

Events not yet decided get their partition from their account or profile, as
intake computes it for new ones; decided events keep 0 (nothing reads it again).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clarion.core.partitions import partition_key, partition_of

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("partition", sa.Integer, nullable=False, server_default="0"))
    conn = op.get_bind()
    open_events = sa.text(
        "SELECT e.id, e.profile_id, COALESCE(e.account_id, p.account_id) AS account_id"
        " FROM events e LEFT JOIN profiles p ON p.id = e.profile_id WHERE e.state <> 'done'"
    )
    update = sa.text('UPDATE events SET "partition" = :partition WHERE id = :id')
    rows = [
        {"id": row.id, "partition": partition_of(partition_key(row.profile_id, row.account_id))}
        for row in conn.execute(open_events)
    ]
    if rows:
        conn.execute(update, rows)
    # The store always writes the column; no default, as in ``schema.py``.
    with op.batch_alter_table("events") as batch:
        batch.alter_column("partition", server_default=None)
    op.create_table(
        "partition_leases",
        sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("owner", sa.String),
        sa.Column("lease_until", sa.Double),
    )
    op.create_table(
        "partition_workers",
        sa.Column("owner", sa.String, primary_key=True),
        sa.Column("alive_until", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("partition_workers")
    op.drop_table("partition_leases")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("partition")
