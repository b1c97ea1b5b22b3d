"""Email opens and clicks: appended to the message's lifecycle log, status unchanged."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.store.schema import lifecycle, messages

# INSERT ... SELECT: the entry copies the message's current status in the same
# statement, and a guid with no message inserts nothing.
_RECORD = sa.insert(lifecycle).from_select(
    ["guid", "at", "status", "reason", "detail"],
    sa.select(
        messages.c.guid,
        sa.bindparam("at", type_=sa.Double),
        messages.c.status,
        sa.bindparam("reason", type_=sa.String),
        sa.bindparam("detail", type_=sa.JSON),
    ).where(messages.c.guid == sa.bindparam("guid")),
)


def record_engagement(
    conn: Connection, guid: str, reason: str, at: float, detail: dict[str, object]
) -> bool:
    """Append an engagement entry (``open``, ``click``) to message ``guid``'s timeline;
    False when no such message exists."""
    params = {"guid": guid, "at": at, "reason": reason, "detail": detail}
    return bool(conn.execute(_RECORD, params).rowcount)
