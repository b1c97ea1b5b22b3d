"""A message's channel steps (``channels:`` in ``messages/<name>.yaml``): channel,
content (field -> string key), platforms, providers, options."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from clarion.catalog import reader
from clarion.catalog.contracts import check_content, read_options
from clarion.catalog.inapp import read_inapp
from clarion.catalog.reader import Shape, Where
from clarion.core.contracts import ChannelOptions, NoOptions
from clarion.core.model import Channel
from clarion.core.spec import ChannelStep

FIELD: Final = Shape(
    re.compile(r"[a-z][a-z0-9_]*"), "lowercase letters, digits and '_', starting with a letter"
)
STRING_KEY: Final = Shape(
    re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"),
    "a dotted string key such as payment_failed.title",
)
_STEP_KEYS: Final = ("channel", "content", "platforms", "provider", "options")


def read_channels(where: Where, value: object) -> tuple[ChannelStep, ...] | None:
    """A message's (or an experiment cell's) ``channels``: its steps, in order."""
    if not isinstance(value, list) or not value:
        where.error("expected a non-empty list of channel steps")
        return None
    steps = [_step(where.at(i), i, item) for i, item in enumerate(value)]
    return tuple(s for s in steps if s is not None) if None not in steps else None


def _step(where: Where, index: int, value: object) -> ChannelStep | None:
    before = len(where.issues)
    data = reader.mapping(where, value, _STEP_KEYS, required=("channel",))
    if data is None or "channel" not in data:
        return None
    channel = reader.choice(where.at("channel"), data["channel"], Channel)
    content: Mapping[str, str] | None = {}
    if "content" in data:
        content = read_content(where.at("content"), data["content"])
    elif channel is not Channel.WEBHOOK:
        where.at("content").error("missing required key (field -> string key)")
    if channel is not None and content is not None and "content" in data:
        check_content(where.at("content"), channel, content)
    platforms = reader.optional(where, data, "platforms", reader.text_list)
    providers = reader.optional(where, data, "provider", _providers) or ()
    options: ChannelOptions | None = NoOptions()
    if channel is not None and "options" in data:
        options = read_options(where.at("options"), channel, data["options"])
    inapp = None
    if channel is Channel.INAPP and content is not None:
        inapp = read_inapp(where, data, content)
    if len(where.issues) > before or channel is None or content is None or options is None:
        return None
    return ChannelStep(
        index=index,
        channel=channel,
        content=content,
        platforms=frozenset(platforms or ()),
        provider=providers[0] if providers else None,
        fallbacks=providers[1:],
        options=options,
        inapp=inapp,
    )


def _providers(where: Where, value: object) -> tuple[str, ...] | None:
    # One provider name, or a non-empty list: primary first, then fallbacks.
    if isinstance(value, list):
        if not value:
            where.error("expected a provider name or a non-empty list of them")
            return None
        return reader.text_list(where, value)
    name = reader.text(where, value)
    return (name,) if name is not None else None


def _keys_of(value: object) -> tuple[str, ...]:
    # Options are free-form: every string key is allowed.
    return tuple(k for k in value if isinstance(k, str)) if isinstance(value, Mapping) else ()


def read_content(where: Where, value: object) -> Mapping[str, str] | None:
    """A step's ``content``: field name -> string key."""
    data = reader.mapping(where, value, _keys_of(value))
    if data is None:
        return None
    content: dict[str, str] = {}
    for field, key in data.items():
        if not FIELD.regex.fullmatch(field):
            where.at(field).error(f"invalid field name (use {FIELD.explained})")
            continue
        string_key = reader.text(where.at(field), key, STRING_KEY)
        if string_key is not None:
            content[field] = string_key
    return content if len(content) == len(data) else None
