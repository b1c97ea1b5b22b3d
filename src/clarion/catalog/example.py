"""A message's ``example``: sample data to render it with, and the context built from it.

Previews, the screenshot gallery and tests render every message in every locale;
templates need an event and a profile to do that, so a message file may carry
them. The context has the same shape as the dispatcher's (``render_context``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from clarion.catalog import reader
from clarion.catalog.reader import Where
from clarion.core.spec import Example, MessageSpec

#: What templates see of a profile, besides its locale (set by each rendering).
PROFILE_KEYS: Final = ("id", "timezone", "country", "account_id", "attributes")
_PROFILE_DEFAULTS: Final[Mapping[str, object]] = {
    "id": "example",
    "timezone": "UTC",
    "country": None,
    "account_id": None,
    "attributes": {},
}


def read_example(where: Where, value: object) -> Example | None:
    """``{event: {...}, profile: {attributes: {...}, country: BR}}``; ``profile`` is optional."""
    data = reader.mapping(where, value, ("event", "profile"), required=("event",))
    if data is None or "event" not in data:
        return None
    event = reader.mapping(where.at("event"), data["event"], _keys_of(data["event"]))
    profile = reader.mapping(where.at("profile"), data.get("profile", {}), PROFILE_KEYS)
    if profile is not None and "attributes" in profile:
        attributes = profile["attributes"]
        if not isinstance(attributes, Mapping):
            where.at("profile.attributes").error("expected a mapping")
            return None
    if event is None or profile is None:
        return None
    return Example(dict(event), dict(profile))


def example_context(spec: MessageSpec, locale: str) -> dict[str, object]:
    """What templates see when ``spec`` renders with its example for a reader of ``locale``.

    A message without an example renders with an empty event (templates that read
    the event then fail, which is what a preview should show).
    """
    example = spec.example or Example({})
    profile = {**_PROFILE_DEFAULTS, **example.profile, "locale": locale}
    return {"profile": profile, "event": dict(example.event), "event_type": spec.trigger}


def _keys_of(value: object) -> tuple[str, ...]:
    # An event payload is free-form: every string key is allowed.
    return tuple(k for k in value if isinstance(k, str)) if isinstance(value, Mapping) else ()
