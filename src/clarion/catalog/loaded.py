"""A loaded catalog: message definitions for ``decide()`` and rendering for the dispatcher."""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy as copy_of
from dataclasses import replace
from pathlib import Path

from clarion.catalog.build import Parts, build
from clarion.catalog.images import image_issues
from clarion.catalog.issues import CatalogError, CatalogIssue, RenderError
from clarion.catalog.render import Rendered, Renderer
from clarion.catalog.strings import LocaleStrings
from clarion.core.spec import CatalogSpec, ChannelStep, MessageSpec


class Catalog:
    """A valid catalog, immutable once loaded; reload by loading again.

    ``locales`` are the catalog's locale tags, the default first.
    """

    def __init__(self, root: Path, parts: Parts) -> None:
        self.spec: CatalogSpec = parts.spec
        self.root = root
        self.default_locale = parts.spec.policy.default_locale
        others = sorted(tag for tag in parts.strings if tag != self.default_locale)
        self.locales: tuple[str, ...] = (self.default_locale, *others)
        self._strings: Mapping[str, LocaleStrings] = parts.strings
        self._renderer = Renderer(
            {tag: s.templates for tag, s in parts.strings.items()}, self.default_locale
        )

    def with_spec(self, spec: CatalogSpec) -> Catalog:
        """A copy that decides with ``spec`` and renders with these strings (the simulator
        runs a catalog's messages with its own holdouts)."""
        copy = copy_of(self)
        copy.spec = spec
        return copy

    def message(self, name: str) -> MessageSpec:
        """The definition of message ``name``; ``KeyError`` if the catalog has none."""
        return self.spec.messages[name]

    def fallback_chain(self, locale: str) -> tuple[str, ...]:
        """The catalog locales tried for a reader of ``locale``, best first."""
        return self._renderer.chain(locale)

    def best_locale(self, locale: str) -> str:
        """The catalog locale that best matches ``locale`` (the default if none does)."""
        return self._renderer.chain(locale)[0]

    def render(
        self,
        message: str,
        step: int,
        locale: str,
        context: Mapping[str, object],
        cell: int | None = None,
    ) -> Rendered:
        """The content of step ``step`` of ``message`` for a reader of ``locale``, as
        experiment cell ``cell`` (if any) words it.

        ``context`` holds ``profile``, ``event`` and ``event_type``. Raises
        ``RenderError`` for an unknown message or step, or a template that fails.
        """
        channel_step = self._step(message, step, locale, cell)
        return self._renderer.render(message, channel_step, locale, context)

    def render_follow_up(
        self,
        message: str,
        step: int,
        locale: str,
        context: Mapping[str, object],
        cell: int | None = None,
    ) -> Rendered:
        """The content of the follow-up of in-app step ``step``: the step's fields, with
        the copy its follow-up rule names in place of their own.

        Raises ``RenderError`` as ``render`` does, and for a step without a follow-up.
        """
        channel_step = self._step(message, step, locale, cell)
        inapp = channel_step.inapp
        if inapp is None or inapp.follow_up is None:
            raise RenderError(message, locale, "", f"channel step {step} has no follow-up")
        content = inapp.follow_up_content(channel_step.content)
        return self._renderer.render(
            message, replace(channel_step, content=content), locale, context
        )

    def render_fallback(
        self,
        message: str,
        step: int,
        locale: str,
        context: Mapping[str, object],
        cell: int | None = None,
    ) -> Rendered:
        """The content of in-app step ``step`` after its federated call failed: the
        step's fields, with the copy its fallback names in place of their own (the
        step's own copy when it declares no fallback). Raises ``RenderError``."""
        channel_step = self._step(message, step, locale, cell)
        inapp = channel_step.inapp
        if inapp is None:
            raise RenderError(message, locale, "", f"channel step {step} is not in-app")
        content = inapp.fallback_content(channel_step.content)
        return self._renderer.render(
            message, replace(channel_step, content=content), locale, context
        )

    def _step(self, message: str, step: int, locale: str, cell: int | None) -> ChannelStep:
        found = self.spec.messages.get(message)
        if found is None:
            raise RenderError(message, locale, "", "no such message in the catalog")
        spec = found.for_cell(cell)
        if not 0 <= step < len(spec.channels):
            raise RenderError(message, locale, "", f"no channel step {step}")
        return spec.channels[step]

    def declared_keys(self, locale: str) -> frozenset[str]:
        """The string keys that catalog locale ``locale``'s own file declares."""
        return self._strings[locale].keys

    def string_source(self, key: str, locale: str) -> str | None:
        """The catalog locale whose copy of ``key`` a reader of ``locale`` sees (after
        fallback), or ``None`` when no locale has the key."""
        return next((t for t in self.fallback_chain(locale) if key in self._strings[t].keys), None)

    def missing_translations(self) -> dict[str, list[str]]:
        """For every non-default locale, the default locale's keys its file lacks."""
        reference = self._strings[self.default_locale].keys
        return {
            tag: sorted(reference - self._strings[tag].keys)
            for tag in self.locales
            if tag != self.default_locale
        }


def _loaded(root: Path) -> tuple[Catalog | None, list[CatalogIssue]]:
    parts, issues = build(root)
    if parts is None:
        return None, issues
    catalog = Catalog(root, parts)
    # Checks that render copy need the loaded catalog (its fallback chains).
    issues = issues + image_issues(catalog)
    return (None if issues else catalog), issues


def load_catalog(root: Path) -> Catalog:
    """The catalog in directory ``root``; raises ``CatalogError`` listing every problem."""
    catalog, issues = _loaded(root)
    if catalog is None:
        raise CatalogError(issues)
    return catalog


def check_catalog(root: Path) -> list[CatalogIssue]:
    """Every problem in the catalog in directory ``root`` (empty when it is valid)."""
    return _loaded(root)[1]
