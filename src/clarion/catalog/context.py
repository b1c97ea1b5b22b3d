"""What templates see: the profile (fields and attributes) and the event payload."""

from __future__ import annotations

from clarion.core.model import Event, Profile


def render_context(profile: Profile, event: Event) -> dict[str, object]:
    """The variables of every catalog string rendered for ``profile`` about ``event``."""
    return {
        "profile": {
            "id": profile.id,
            "locale": profile.locale,
            "timezone": profile.timezone,
            "country": profile.country,
            "account_id": profile.account_id,
            "attributes": dict(profile.attributes),
        },
        "event": dict(event.payload),
        "event_type": event.type,
    }
