"""The JSON shape of an ``Outgoing``, shared by providers that hand messages on as JSON."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from clarion.channels.base import Outgoing


def message_record(message: Outgoing) -> dict[str, object]:
    """The message as a JSON-ready dict; addresses appear only when present.

    ``options`` are instructions to the provider, not content, so they stay out.
    """
    record: dict[str, object] = {
        "guid": message.guid,
        "channel": message.channel,
        "message": message.message,
        "message_id": message.message_id,
        "category": message.category,
        "profile_id": message.profile_id,
        "locale": message.locale,
        "fields": message.fields,
    }
    if message.email is not None:
        record["email"] = message.email
    if message.phone is not None:
        record["phone"] = message.phone
    if message.country is not None:
        record["country"] = message.country
    if message.devices:
        record["devices"] = message.devices
    record["attempt"] = message.attempt
    record["tracking"] = message.tracking
    return record


def _mapping_as_dict(value: object) -> object:
    # orjson serializes only real dicts; the domain types fields as read-only Mappings.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: object) -> bytes:
    """Compact JSON bytes; enums, dataclasses, datetimes and any ``Mapping`` included."""
    return orjson.dumps(value, default=_mapping_as_dict)
