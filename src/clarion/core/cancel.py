"""Cancel-on events: which of a profile's messages an event cancels.

A message lists the event types that cancel it while pending (its ``cancel_on`` and
its goal). A type may be scoped to payload fields (``Timing.cancel_match``): the
message then keeps the triggering event's values at those paths
(``ScopedCancel``), and only an event with the same values cancels it, so
``play.started`` of one show leaves the reminder of another alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from clarion.core.model import CancelOn, Event, ScopedCancel
from clarion.core.spec import MessageSpec


def bind(spec: MessageSpec, event: Event) -> tuple[CancelOn, ...]:
    """``spec``'s cancel-on entries for a message triggered by ``event``."""
    scopes = spec.timing.cancel_match
    if not scopes:
        return spec.cancel_events
    return tuple(
        ScopedCancel(name, tuple((".".join(p), value_at(event.payload, p)) for p in scopes[name]))
        if name in scopes
        else name
        for name in spec.cancel_events
    )


def cancels(entries: tuple[CancelOn, ...], event: Event) -> bool:
    """Whether ``event`` cancels a message with these cancel-on entries."""
    etype = event.type
    if etype in entries:  # an unscoped entry (a string equals only a string)
        return True
    for entry in entries:
        if (
            isinstance(entry, ScopedCancel)
            and entry.event == etype
            and all(
                value_at(event.payload, path.split(".")) == value for path, value in entry.values
            )
        ):
            return True
    return False


def value_at(payload: object, path: tuple[str, ...] | list[str]) -> object:
    """The payload's value at ``path``; ``None`` when absent (absent matches absent)."""
    value = payload
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
