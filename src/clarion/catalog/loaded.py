"""A loaded catalog: message definitions for ``decide()`` and rendering for the dispatcher."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from clarion.catalog.build import Parts, build
from clarion.catalog.issues import CatalogError, CatalogIssue, RenderError
from clarion.catalog.render import Rendered, Renderer
from clarion.catalog.strings import LocaleStrings
from clarion.core.spec import CatalogSpec, MessageSpec


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
        self, message: str, step: int, locale: str, context: Mapping[str, object]
    ) -> Rendered:
        """The content of step ``step`` of ``message`` for a reader of ``locale``.

        ``context`` holds ``profile``, ``event`` and ``event_type``. Raises
        ``RenderError`` for an unknown message or step, or a template that fails.
        """
        spec = self.spec.messages.get(message)
        if spec is None:
            raise RenderError(message, locale, "", "no such message in the catalog")
        if not 0 <= step < len(spec.channels):
            raise RenderError(message, locale, "", f"no channel step {step}")
        return self._renderer.render(message, spec.channels[step], locale, context)

    def missing_translations(self) -> dict[str, list[str]]:
        """For every non-default locale, the default locale's keys its file lacks."""
        reference = self._strings[self.default_locale].keys
        return {
            tag: sorted(reference - self._strings[tag].keys)
            for tag in self.locales
            if tag != self.default_locale
        }


def load_catalog(root: Path) -> Catalog:
    """The catalog in directory ``root``; raises ``CatalogError`` listing every problem."""
    parts, issues = build(root)
    if parts is None:
        raise CatalogError(issues)
    return Catalog(root, parts)


def check_catalog(root: Path) -> list[CatalogIssue]:
    """Every problem in the catalog in directory ``root`` (empty when it is valid)."""
    return build(root)[1]
