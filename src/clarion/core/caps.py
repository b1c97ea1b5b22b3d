"""Frequency caps over rolling windows: one fatigue budget across all channels.

Channel and global caps count channel messages (each is a touch); a message cap
counts occurrences of the message, however many channels each one used. A message
counts from the time ``counted_at`` gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from clarion.core.model import COUNTED, Channel, PastMessage
from clarion.core.spec import Cap

_INAPP = Channel.INAPP


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
    # Filter once; each cap then only compares the times the messages count from
    # (``counted_at``, called for in-app messages only: decide()'s hot path).
    hits = [m for m in history if (m.status in COUNTED or (held_out and m.held_out)) and match(m)]
    times = [m.created_at if m.channel is not _INAPP else counted_at(m) for m in hits]
    for cap in caps:
        since = now - cap.window
        if per_event:
            count = len(
                {m.event_id for m, at in zip(hits, times, strict=True) if at and at > since}
            )
        else:
            count = sum(1 for at in times if at and at > since)
        if count >= cap.limit:
            return cap
    return None


def counted_at(message: PastMessage) -> datetime | None:
    """When ``message`` starts to count against caps; None: it does not count (yet).

    An in-app message touches the person only when a device shows it, so it counts
    from its first impression (DESIGN.md section 3): alerts nobody has seen must
    not spend the budget of the push and email that follow. A held-out one is
    never shown, and counts from its creation as before (as the send it replaced).
    """
    if message.channel is Channel.INAPP and not message.held_out:
        return message.first_seen_at
    return message.created_at
