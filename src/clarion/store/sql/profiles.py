"""Profiles and their devices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from clarion.core.model import DeadPushToken, Device, Profile, Status
from clarion.store.schema import devices, lifecycle, messages, profiles, suppressions
from clarion.store.sql.bulk import chunked
from clarion.store.sql.convert import (
    device_of,
    device_row,
    dt,
    lifecycle_row,
    profile_of,
    profile_row,
    ts,
)
from clarion.store.sql.dialects import dialect_of
from clarion.store.sql.receipts import address_limits_of

_PROFILE_KEPT = frozenset({"id", "created_at"})
_DEVICE_KEY = ("profile_id", "device_id")


def upsert_profile(conn: Connection, profile: Profile, now: datetime) -> None:
    """Create or replace the profile; stored devices stay, the profile's own are upserted."""
    at = ts(now)
    stmt = dialect_of(conn).insert(profiles).values(profile_row(profile, at))
    replaced = {name: stmt.excluded[name] for name in _names(profiles) if name not in _PROFILE_KEPT}
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=replaced))
    upsert_devices(conn, profile.id, profile.devices, at)


def upsert_devices(conn: Connection, profile_id: str, batch: Sequence[Device], at: float) -> None:
    if not batch:
        return
    stmt = dialect_of(conn).insert(devices)
    replaced = {name: stmt.excluded[name] for name in _names(devices) if name not in _DEVICE_KEY}
    rows = [device_row(profile_id, device, at) for device in batch]
    conn.execute(stmt.on_conflict_do_update(index_elements=list(_DEVICE_KEY), set_=replaced), rows)


def _names(table: sa.Table) -> list[str]:
    return [column.name for column in table.columns]


def profile_exists(conn: Connection, profile_id: str) -> bool:
    query = sa.select(profiles.c.id).where(profiles.c.id == profile_id)
    return conn.execute(query).first() is not None


def profiles_by_id(conn: Connection, profile_ids: Iterable[str]) -> dict[str, Profile]:
    rows: list[Row[Any]] = []
    for ids in chunked(sorted(set(profile_ids))):
        rows.extend(conn.execute(sa.select(profiles).where(profiles.c.id.in_(ids))))
    return _with_devices(conn, rows)


def profiles_by_account(conn: Connection, account_ids: Iterable[str]) -> dict[str, Profile]:
    rows: list[Row[Any]] = []
    for ids in chunked(sorted(set(account_ids))):
        rows.extend(conn.execute(sa.select(profiles).where(profiles.c.account_id.in_(ids))))
    return _with_devices(conn, rows)


def _with_devices(conn: Connection, rows: Sequence[Row[Any]]) -> dict[str, Profile]:
    """Profiles from their rows, with every device loaded in one query per chunk."""
    by_profile: dict[str, list[Device]] = {row.id: [] for row in rows}
    for ids in chunked(list(by_profile)):
        query = (
            sa.select(devices)
            .where(devices.c.profile_id.in_(ids))
            .order_by(devices.c.profile_id, devices.c.device_id)
        )
        for row in conn.execute(query):
            by_profile[row.profile_id].append(device_of(row))
    dismissed = _dismissed_everywhere(conn, list(by_profile))
    limits = address_limits_of(conn, by_profile)
    return {
        row.id: profile_of(
            row, tuple(by_profile[row.id]), dismissed.get(row.id, {}), limits.get(row.id, ())
        )
        for row in rows
    }


def _dismissed_everywhere(conn: Connection, ids: list[str]) -> dict[str, dict[str, datetime]]:
    """Messages each profile dismissed on every channel (decide() suppresses them)."""
    s = suppressions.c
    found: dict[str, dict[str, datetime]] = {}
    for chunk in chunked(ids):
        query = sa.select(s.profile_id, s.message, s.until).where(
            s.profile_id.in_(chunk), s.all_channels.is_(True)
        )
        for profile_id, message, until in conn.execute(query):
            found.setdefault(profile_id, {})[message] = dt(until)
    return found


#: Lifecycle reason of a device token the push service reported dead.
PUSH_TOKEN_REMOVED = "push_token_removed"


def remove_push_token(conn: Connection, dead: DeadPushToken, at: float) -> bool:
    """Clear the device's push token if it still is the one reported (the app may
    have registered a new one meanwhile), and note it in the message's lifecycle
    log under the message's current status. True when the token was cleared."""
    d = devices.c
    cleared = conn.execute(
        sa.update(devices)
        .where(
            d.profile_id == dead.profile_id,
            d.device_id == dead.device_id,
            d.push_token == dead.token,
        )
        .values(push_token=None, updated_at=at)
    ).rowcount
    query = sa.select(messages.c.status).where(messages.c.guid == dead.guid)
    status = conn.execute(query).scalar()
    if status is not None:
        entry = {**dead.detail, "token_cleared": bool(cleared)}
        conn.execute(
            sa.insert(lifecycle),
            lifecycle_row(dead.guid, at, Status(status), PUSH_TOKEN_REMOVED, entry),
        )
    return bool(cleared)
