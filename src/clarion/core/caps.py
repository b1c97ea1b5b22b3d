"""Frequency caps over rolling windows: one fatigue budget across all channels.

Channel and global caps count channel messages (each is a touch); a message cap
counts occurrences of the message, however many channels each one used. A message
counts when it is due to go out (``PastMessage.counted_at``), not when it was
decided: one delayed by a day counts on the day it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from clarion.core.model import COUNTED, PastMessage
from clarion.core.spec import Cap


def first_exceeded(
    history: Iterable[PastMessage],
    at: datetime,
    caps: Sequence[Cap],
    match: Callable[[PastMessage], bool],
    per_event: bool = False,
    held_out: bool = False,
) -> Cap | None:
    """The first cap that one more message, due at ``at``, would exceed, if any
    (counting held-out messages too when ``held_out``).

    Every window that would hold the new message counts: those ending at ``at``, and,
    since messages already scheduled may be due after it, those ending later."""
    if not caps:
        return None
    hits = [
        (m.counted_at, m.event_id)
        for m in history
        if (m.status in COUNTED or (held_out and m.held_out)) and match(m)
    ]
    for cap in caps:
        if _most_in_a_window(hits, at, cap.window, per_event) >= cap.limit:
            return cap
    return None


def _most_in_a_window(
    hits: Sequence[tuple[datetime, str]], at: datetime, window: timedelta, per_event: bool
) -> int:
    """The most messages (or events) in one window ``(end - window, end]`` with
    ``at <= end < at + window``: the count only grows at a message's own time, so
    the ends worth trying are ``at`` and the times of the messages after it."""
    near = [(t, e) for t, e in hits if at - window < t < at + window]
    later = [t for t, _ in near if t > at]
    if not later:  # the usual case: nothing due after ``at``, one window to count
        return len({e for _, e in near}) if per_event else len(near)
    most = 0
    for end in (at, *later):
        inside = [e for t, e in near if end - window < t <= end]
        most = max(most, len(set(inside)) if per_event else len(inside))
    return most
