"""The catalog-wide policy file (``clarion.yaml``) into a ``Policy``."""

from __future__ import annotations

from typing import Final

from clarion.catalog import reader
from clarion.catalog.experiments import read_holdout
from clarion.catalog.reader import Where
from clarion.core.model import Channel
from clarion.core.spec import Cap, LocalWindow, Policy

_KEYS: Final = ("default_locale", "quiet_hours", "caps", "holdout")


def read_policy(where: Where, value: object) -> Policy | None:
    """The policy in ``clarion.yaml``; an empty file means every default."""
    if value is None:
        return Policy()
    before = len(where.issues)
    data = reader.mapping(where, value, _KEYS)
    if data is None:
        return None
    locale = "en"
    if "default_locale" in data:
        locale = reader.text(where.at("default_locale"), data["default_locale"]) or locale
    quiet: LocalWindow | None = None
    if "quiet_hours" in data:
        quiet = reader.local_window(where.at("quiet_hours"), data["quiet_hours"], with_days=False)
    global_caps: tuple[Cap, ...] = ()
    channel_caps: dict[Channel, tuple[Cap, ...]] = {}
    if "caps" in data:
        global_caps, channel_caps = _caps(where.at("caps"), data["caps"])
    holdout = read_holdout(where.at("holdout"), data["holdout"]) if "holdout" in data else 0.0
    if len(where.issues) > before:
        return None
    return Policy(
        default_locale=locale,
        quiet_hours=quiet,
        channel_caps=channel_caps,
        global_caps=global_caps,
        holdout=holdout or 0.0,
    )


def _caps(where: Where, value: object) -> tuple[tuple[Cap, ...], dict[Channel, tuple[Cap, ...]]]:
    data = reader.mapping(where, value, ("global", "channels"))
    if data is None:
        return (), {}
    global_caps: tuple[Cap, ...] = ()
    if "global" in data:
        global_caps = reader.caps(where.at("global"), data["global"], "global") or ()
    channel_caps: dict[Channel, tuple[Cap, ...]] = {}
    if "channels" in data:
        per_channel = reader.mapping(
            where.at("channels"), data["channels"], tuple(c.value for c in Channel)
        )
        for name, caps in (per_channel or {}).items():
            channel = Channel(name)
            found = reader.caps(where.at("channels").at(name), caps, f"channel:{name}")
            if found:
                channel_caps[channel] = found
    return global_caps, channel_caps
