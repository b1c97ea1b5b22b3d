"""A synthetic population of profiles, each with addresses and one push-capable device.

Written straight through the store's engine with its bulk insert (one
``executemany`` on SQLite, one JSON batch on PostgreSQL per chunk), because
upserting 100,000 profiles one transaction at a time takes minutes.
"""

from __future__ import annotations

import time

from clarion.core.model import Device, Profile
from clarion.store.schema import devices, profiles
from clarion.store.sql import SqlStore
from clarion.store.sql.bulk import append
from clarion.store.sql.convert import device_row, profile_row

LOCALES = ("en", "en", "en", "es", "pt-BR", "pt", "fr")  # fr falls back to en
ZONES = ("UTC", "America/New_York", "America/Sao_Paulo", "Europe/Lisbon", "Asia/Tokyo")
PLATFORMS = ("ios", "android", "web", "tv")
CHUNK = 5_000


def profile(i: int) -> Profile:
    return Profile(
        id=f"p{i}",
        locale=LOCALES[i % len(LOCALES)],
        timezone=ZONES[i % len(ZONES)],
        country="US",
        email=f"p{i}@example.com",
        phone=f"+1555{i:07d}",
        account_id=f"a{i}",
        attributes={"first_name": f"Name{i}", "plan": "standard"},
        devices=(Device(f"d{i}", PLATFORMS[i % len(PLATFORMS)], "16.2.0", None, f"tok-{i}"),),
    )


def populate(url: str, count: int) -> float:
    """Insert ``count`` profiles (``p0`` ...) into a migrated, empty database; seconds taken."""
    start = time.perf_counter()
    store = SqlStore(url)
    now = time.time()
    try:
        for first in range(0, count, CHUNK):
            batch = [profile(i) for i in range(first, min(count, first + CHUNK))]
            with store.engine.begin() as conn:
                append(conn, profiles, [profile_row(p, now) for p in batch])
                append(conn, devices, [device_row(p.id, p.devices[0], now) for p in batch])
    finally:
        store.close()
    return time.perf_counter() - start
