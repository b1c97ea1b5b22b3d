"""Send windows and quiet hours in a profile's local time.

``next_allowed`` finds the earliest instant at or after ``due`` that lies inside
the send window and outside quiet hours. Allowed time is a union of intervals
whose left ends are window starts or quiet-hour ends, so it is enough to try
``due`` itself and those edges over the following week.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clarion.core.spec import LocalWindow

_HORIZON_DAYS = 8


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``, or UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def in_window(local: datetime, window: LocalWindow) -> bool:
    """Whether a local wall-clock instant lies inside ``window``."""
    t = local.time()  # naive wall time (``timetz`` would keep the zone)
    start, end = window.start, window.end
    if start == end:
        return local.isoweekday() in window.days
    if start < end:
        return start <= t < end and local.isoweekday() in window.days
    # The span crosses midnight: the part after midnight belongs to the previous day.
    if t >= start:
        return local.isoweekday() in window.days
    if t < end:
        return (local - timedelta(days=1)).isoweekday() in window.days
    return False


def _allowed(local: datetime, window: LocalWindow | None, quiet: LocalWindow | None) -> bool:
    if window is not None and not in_window(local, window):
        return False
    return quiet is None or not in_window(local, quiet)


def _at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz)


def next_allowed(
    due: datetime, tz: ZoneInfo, window: LocalWindow | None, quiet: LocalWindow | None
) -> datetime | None:
    """The earliest UTC instant ``>= due`` inside ``window`` and outside ``quiet``.

    ``None`` when no such instant exists within a week (an empty window).
    """
    if window is None and quiet is None:
        return due
    local = due.astimezone(tz)
    if _allowed(local, window, quiet):
        return due
    edges = sorted(
        [w.start for w in (window,) if w is not None] + [q.end for q in (quiet,) if q is not None]
    )
    day = local.date() - timedelta(days=1)
    for _ in range(_HORIZON_DAYS + 1):
        for edge in edges:
            # Round-trip through UTC so that wall times in a DST gap land on a real instant.
            real = _at(day, edge, tz).astimezone(UTC).astimezone(tz)
            if real >= local and _allowed(real, window, quiet):
                return real.astimezone(UTC)
        day += timedelta(days=1)
    return None
