"""Frequency caps over rolling windows: one fatigue budget across all channels.

Channel and global caps count channel messages (each is a touch); a message cap
counts occurrences of the message, however many channels each one used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from clarion.core.model import COUNTED, PastMessage
from clarion.core.spec import Cap


def first_exceeded(
    history: Iterable[PastMessage],
    now: datetime,
    caps: Sequence[Cap],
    match: Callable[[PastMessage], bool],
    per_event: bool = False,
    held_out: bool = False,
) -> Cap | None:
    """The first cap that one more message would exceed, if any (counting held-out
    messages too when ``held_out``)."""
    if not caps:
        return None
    # Filter once; each cap then only compares creation times.
    hits = [m for m in history if (m.status in COUNTED or (held_out and m.held_out)) and match(m)]
    for cap in caps:
        since = now - cap.window
        if per_event:
            count = len({m.event_id for m in hits if m.created_at > since})
        else:
            count = sum(1 for m in hits if m.created_at > since)
        if count >= cap.limit:
            return cap
    return None
