"""Bad addresses say what the address cannot receive, and may expire.

A number Twilio called a landline (30006, 21614, 21407) was recorded as a bad
``phone``, which stopped the voice fallback too: it becomes an ``sms`` limit. A
handset that was off (30003) blocked the number until the profile changed it: it
becomes an ``sms`` limit that ends 12 hours after it was recorded. Early reports
keep how long their bad address lasts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

#: The codes as this revision classified them (``clarion.channels.twilio_client``).
_NO_SMS = ("twilio:21407", "twilio:21614", "twilio:30006")
_HANDSET_OFF = "twilio:30003"
_HANDSET_OFF_SECONDS = 12 * 3600.0


def upgrade() -> None:
    op.add_column("bad_addresses", sa.Column("until", sa.Double))
    op.add_column("early_reports", sa.Column("bad_lasts", sa.Double))
    bad = sa.table(
        "bad_addresses",
        sa.column("kind", sa.String),
        sa.column("code", sa.String),
        sa.column("at", sa.Double),
        sa.column("until", sa.Double),
    )
    phone = bad.c.kind == "phone"
    # An existing "sms" row for the same number cannot exist: the kind is new.
    op.execute(bad.update().where(phone, bad.c.code.in_(_NO_SMS)).values(kind="sms"))
    op.execute(
        bad.update()
        .where(phone, bad.c.code == _HANDSET_OFF)
        .values(kind="sms", until=bad.c.at + _HANDSET_OFF_SECONDS)
    )
    held = sa.table(
        "early_reports",
        sa.column("bad_kind", sa.String),
        sa.column("bad_code", sa.String),
        sa.column("bad_lasts", sa.Double),
    )
    op.execute(
        held.update()
        .where(held.c.bad_kind == "phone", held.c.bad_code.in_(_NO_SMS))
        .values(bad_kind="sms")
    )
    op.execute(
        held.update()
        .where(held.c.bad_kind == "phone", held.c.bad_code == _HANDSET_OFF)
        .values(bad_kind="sms", bad_lasts=_HANDSET_OFF_SECONDS)
    )


def downgrade() -> None:
    # Back to "bad for every phone channel, for good": the older reading.
    bad = sa.table("bad_addresses", sa.column("kind", sa.String))
    op.execute(bad.update().where(bad.c.kind == "sms").values(kind="phone"))
    held = sa.table("early_reports", sa.column("bad_kind", sa.String))
    op.execute(held.update().where(held.c.bad_kind == "sms").values(bad_kind="phone"))
    with op.batch_alter_table("early_reports") as batch:
        batch.drop_column("bad_lasts")
    with op.batch_alter_table("bad_addresses") as batch:
        batch.drop_column("until")
