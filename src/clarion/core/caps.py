"""Frequency caps over rolling windows: one fatigue budget across all channels."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from clarion.core.model import COUNTED, PastMessage
from clarion.core.spec import Cap


def count_within(
    history: Iterable[PastMessage], now: datetime, cap: Cap, match: Callable[[PastMessage], bool]
) -> int:
    """How many counted messages matching ``match`` were created within the cap's window."""
    since = now - cap.window
    return sum(1 for m in history if m.status in COUNTED and m.created_at > since and match(m))


def first_exceeded(
    history: Iterable[PastMessage],
    now: datetime,
    caps: Iterable[Cap],
    match: Callable[[PastMessage], bool],
) -> Cap | None:
    """The first cap that one more message would exceed, if any."""
    recent = list(history)
    for cap in caps:
        if count_within(recent, now, cap, match) >= cap.limit:
            return cap
    return None
