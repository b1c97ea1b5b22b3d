"""Deterministic identifiers: reprocessing an event always yields the same message ids."""

from __future__ import annotations

from hashlib import sha1


def message_guid(event_id: str, message: str, step: int, profile_id: str) -> str:
    """The id of the message that ``event_id`` causes for one profile on one channel step.

    40 upper-case hex digits, like the tracking guids of the in-app contract.
    """
    key = f"{event_id}\x1f{message}\x1f{step}\x1f{profile_id}".encode()
    return sha1(key, usedforsecurity=False).hexdigest().upper()
