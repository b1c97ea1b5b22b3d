"""Localization coverage of in-app alerts: the data behind screenshot QC.

For every in-app step of a catalog (and its follow-up, whose copy differs), the
locales that have strings for it and, in each, where every field's copy comes
from. A field whose copy would come from another language (a Spanish screenshot
showing English) is missing: QC reports it as an error instead of shooting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from clarion.catalog import Catalog
from clarion.core.inapp_spec import InAppSpec, Platform, Template

Variant = Literal["alert", "follow_up", "fallback"]
#: The action a fallback's REDIRECT names in QC (the real one is configuration).
QC_FALLBACK_ACTION = "FALLBACK"


@dataclass(frozen=True, slots=True)
class LocaleCoverage:
    """One locale's copy of one alert: the catalog locale each field's copy comes
    from, and the fields whose copy is not in this locale or an ancestor of it."""

    locale: str
    sources: Mapping[str, str | None]  # field -> catalog locale (None: no locale has it)
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlertCoverage:
    """An in-app alert (a step, or its follow-up) and its copy in each locale that
    has strings for it, the default locale first."""

    message: str
    step: int
    variant: Variant
    template: Template
    platforms: frozenset[Platform]
    content: Mapping[str, str]  # field -> string key
    locales: tuple[LocaleCoverage, ...]

    @property
    def complete(self) -> bool:
        """Whether every locale has every field in its own language."""
        return not any(locale.missing for locale in self.locales)


def inapp_coverage(catalog: Catalog) -> tuple[AlertCoverage, ...]:
    """Every in-app alert of ``catalog``, by message name, then step: the alert, its
    follow-up, then its fallback (after a failed federated call)."""
    found: list[AlertCoverage] = []
    for name in sorted(catalog.spec.messages):
        for step in catalog.message(name).channels:
            if step.inapp is None:
                continue
            found.append(_alert(catalog, name, step.index, "alert", step.inapp, step.content))
            follow = step.inapp.follow_up_spec()
            if follow is not None:
                content = step.inapp.follow_up_content(step.content)
                found.append(_alert(catalog, name, step.index, "follow_up", follow, content))
            if step.inapp.fallback is not None:
                fallback = step.inapp.fallback_spec(QC_FALLBACK_ACTION)
                content = step.inapp.fallback_content(step.content)
                found.append(_alert(catalog, name, step.index, "fallback", fallback, content))
    return tuple(found)


def _alert(
    catalog: Catalog,
    message: str,
    step: int,
    variant: Variant,
    spec: InAppSpec,
    content: Mapping[str, str],
) -> AlertCoverage:
    keys = set(content.values())
    locales = tuple(
        _locale(catalog, tag, content)
        for tag in catalog.locales
        if keys & catalog.declared_keys(tag)
    )
    return AlertCoverage(message, step, variant, spec.template, spec.platforms, content, locales)


def _locale(catalog: Catalog, locale: str, content: Mapping[str, str]) -> LocaleCoverage:
    sources = {field: catalog.string_source(key, locale) for field, key in content.items()}
    missing = tuple(f for f, source in sources.items() if not _own(locale, source))
    return LocaleCoverage(locale, sources, missing)


def _own(locale: str, source: str | None) -> bool:
    """Whether copy from ``source`` is in ``locale``'s language: the locale itself or
    an ancestor (``pt`` for ``pt-BR``), not a sibling (``pt-PT``) or the default."""
    return source is not None and (source == locale or locale.startswith(f"{source}-"))
