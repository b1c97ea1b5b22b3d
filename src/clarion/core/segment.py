"""Segments: predicates over a profile, which may compare against the triggering event.

A segment is evaluated on a ``Subject``. Paths read the profile (its fields and
``attributes``); an operand ``{event: path}`` reads the event's payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from clarion.core.model import JSONObject, Profile
from clarion.core.predicate import Compiler, Getter, attribute_getter, mapping_getter

#: The profile fields a segment may read.
SEGMENT_ROOTS: Final = frozenset(
    {"locale", "timezone", "country", "account_id", "attributes", "email", "phone"}
)


class Subject(NamedTuple):
    """What a segment sees: one profile and the payload of the event being decided."""

    profile: Profile
    event: JSONObject


def _profile_path(parts: Sequence[str]) -> Getter:
    get = attribute_getter(parts)
    return lambda subject: get(subject[0])  # type: ignore[index]


def _event_path(parts: Sequence[str]) -> Getter:
    get = mapping_getter(parts)
    return lambda subject: get(subject[1])  # type: ignore[index]


SEGMENTS: Final = Compiler(getter=_profile_path, roots=SEGMENT_ROOTS, refs={"event": _event_path})
