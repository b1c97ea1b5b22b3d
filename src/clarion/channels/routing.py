"""Routes checked against what their providers serve: each provider type declares its
``channels`` (``Provider.channels``), and a route that sends a channel to a provider
not serving it (SMS to the in-app store) is refused when Clarion starts, rather than
found by the first message that takes it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from clarion.channels.base import Provider
from clarion.core.model import Channel
from clarion.core.spec import CatalogSpec


def misrouted(
    routes: Mapping[Channel, Sequence[str]],
    catalog: CatalogSpec | None,
    providers: Mapping[str, Provider],
) -> list[str]:
    """Every route, in the settings' ``routes`` or on a catalog step (experiment cells
    included), that names a configured provider not serving the route's channel.
    Names not configured are left to the check of unknown providers."""
    found: list[str] = []
    for where, channel, names in _routes(routes, catalog):
        for name in names:
            provider = providers.get(name)
            serves = _served(provider) if provider is not None else frozenset(Channel)
            if channel not in serves:
                served = ", ".join(sorted(serves)) or "nothing"
                found.append(f"{where} sends {channel} to {name!r}, which serves {served} only")
    return found


def _served(provider: Provider) -> frozenset[Channel]:
    # Every provider Clarion builds declares its channels (a test checks); a provider
    # handed in that does not say (a test double) is taken at its word of serving all.
    channels: frozenset[Channel] = getattr(provider, "channels", frozenset(Channel))
    return channels


def _routes(
    routes: Mapping[Channel, Sequence[str]], catalog: CatalogSpec | None
) -> Iterator[tuple[str, Channel, Sequence[str]]]:
    for channel, names in routes.items():
        yield f"routes.{channel}", channel, names
    seen: set[tuple[str, int, Channel, tuple[str, ...]]] = set()
    for spec in catalog.messages.values() if catalog is not None else ():
        for variant in (spec, *spec.variants):
            for step in variant.channels:
                if step.provider is None:
                    continue
                names = (step.provider, *step.fallbacks)
                key = (spec.source, step.index, step.channel, names)
                if key not in seen:  # a cell that keeps the step says nothing new
                    seen.add(key)
                    yield f"{spec.source}: channels[{step.index}].provider", step.channel, names
