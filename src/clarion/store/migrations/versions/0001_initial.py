"""Initial schema: events, profiles, devices, messages, lifecycle.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("type", sa.String, nullable=False),
        sa.Column("profile_id", sa.String, nullable=False),
        sa.Column("account_id", sa.String),
        sa.Column("occurred_at", sa.Double, nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String),
        sa.Column("lease_until", sa.Double),
        sa.Column("processed_at", sa.Double),
    )
    op.create_index("ix_events_claim", "events", ["state", "received_at", "seq"])

    op.create_table(
        "profiles",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("account_id", sa.String),
        sa.Column("locale", sa.String, nullable=False),
        sa.Column("timezone", sa.String, nullable=False),
        sa.Column("country", sa.String),
        sa.Column("email", sa.String),
        sa.Column("phone", sa.String),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("opt_out_channels", sa.JSON, nullable=False),
        sa.Column("opt_out_categories", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("ix_profiles_account", "profiles", ["account_id"])

    op.create_table(
        "devices",
        sa.Column("profile_id", sa.String, primary_key=True),
        sa.Column("device_id", sa.String, primary_key=True),
        sa.Column("platform", sa.String, nullable=False),
        sa.Column("app_version", sa.String),
        sa.Column("locale", sa.String),
        sa.Column("push_token", sa.String),
        sa.Column("updated_at", sa.Double, nullable=False),
    )

    op.create_table(
        "messages",
        sa.Column("guid", sa.String(40), primary_key=True),
        sa.Column("event_id", sa.String, nullable=False),
        sa.Column("profile_id", sa.String, nullable=False),
        sa.Column("message", sa.String, nullable=False),
        sa.Column("message_id", sa.Integer, nullable=False),
        sa.Column("category", sa.String, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("due_at", sa.Double),
        sa.Column("expires_at", sa.Double),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("devices", sa.JSON, nullable=False),
        sa.Column("dedup_key", sa.String),
        sa.Column("cancel_on", sa.JSON, nullable=False),
        sa.Column("lease_owner", sa.String),
        sa.Column("lease_until", sa.Double),
        sa.Column("provider", sa.String),
        sa.Column("provider_ref", sa.String),
    )
    op.create_index("ix_messages_claim", "messages", ["status", "due_at"])
    op.create_index("ix_messages_profile", "messages", ["profile_id", "created_at"])

    op.create_table(
        "lifecycle",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("guid", sa.String(40), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_lifecycle_guid", "lifecycle", ["guid"])


def downgrade() -> None:
    for table in ("lifecycle", "messages", "devices", "profiles", "events"):
        op.drop_table(table)
