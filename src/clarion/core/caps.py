"""Frequency caps over rolling windows: one fatigue budget across all channels.

Channel and global caps count channel messages (each is a touch); a message cap
counts occurrences of the message, however many channels each one used. A message
counts from the time ``counted_at`` gives it: when it is due to go out, not when it
was decided (one delayed by a day counts on the day it is sent), and an in-app
message from its first impression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from clarion.core.model import COUNTED, Channel, PastMessage
from clarion.core.spec import Cap

_INAPP = Channel.INAPP


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
    hits: list[tuple[datetime, str]] = []
    for m in history:
        if (m.status in COUNTED or (held_out and m.held_out)) and match(m):
            t = counted_at(m)
            if t is not None:
                hits.append((t, m.event_id))
    for cap in caps:
        if _most_in_a_window(hits, at, cap.window, per_event) >= cap.limit:
            return cap
    return None


def counted_at(message: PastMessage) -> datetime | None:
    """When ``message`` starts to count against caps; None: it does not count (yet).

    A message counts when it is due to go out, which for a delayed or windowed
    message is later than its decision. An in-app message touches the person only
    when a device shows it, so it counts from its first impression (DESIGN.md
    section 3): alerts nobody has seen must not spend the budget of the push and
    email that follow. A held-out one is never shown, and counts as the send it
    replaced would.
    """
    if message.channel is _INAPP and not message.held_out:
        return message.first_seen_at
    return message.due_at if message.due_at is not None else message.created_at


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
