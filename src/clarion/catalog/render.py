"""Rendering a message's content fields in a reader's locale, field by field.

Each field's string is looked up along the fallback chain on its own, so a
locale that lacks one key still shows its own copy for the others. Chains and
the helpers bound to them are computed once per requested locale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Template

from clarion.catalog.helpers import helpers
from clarion.catalog.issues import RenderError
from clarion.catalog.locales import fallback_chain, format_locale
from clarion.catalog.strings import Compiled
from clarion.core.spec import ChannelStep


@dataclass(frozen=True, slots=True)
class Rendered:
    """A step's content in one reader's locale."""

    locale: str  # the catalog locale actually used for the first field (after fallback)
    fields: Mapping[str, str]  # field -> rendered copy markup


@dataclass(frozen=True, slots=True)
class _Plan:
    """For one requested locale: the chain to try, and each locale's template helpers."""

    chain: tuple[str, ...]
    helpers: Mapping[str, Mapping[str, Callable[..., str]]]


class Renderer:
    """Renders content fields from compiled strings (locale -> key -> compiled string)."""

    def __init__(self, strings: Mapping[str, Mapping[str, Compiled]], default: str) -> None:
        self._strings = strings
        self._default = default
        self._available = frozenset(strings)
        # Each template's globals as a plain dict: Jinja's own ``render`` copies
        # them out of a ChainMap for every call, which is half the cost of a short string.
        self._globals: dict[Template, dict[str, object]] = {
            t: dict(t.globals)
            for s in strings.values()
            for t in s.values()
            if isinstance(t, Template)
        }
        # Bounded: requested locales come from profiles and devices, so from outside.
        self._plan = lru_cache(maxsize=4096)(self._make_plan)

    def chain(self, locale: str) -> tuple[str, ...]:
        """The catalog locales tried for ``locale``, best first, ending with the default."""
        return self._plan(locale).chain

    def _make_plan(self, locale: str) -> _Plan:
        chain = fallback_chain(locale, self._available, self._default)
        return _Plan(chain, {used: helpers(format_locale(locale, used)) for used in chain})

    def render(
        self, message: str, step: ChannelStep, locale: str, context: Mapping[str, object]
    ) -> Rendered:
        """Every content field of ``step``, rendered for a reader of ``locale``."""
        plan = self._plan(locale)
        fields: dict[str, str] = {}
        first = plan.chain[0]
        for position, (field, key) in enumerate(step.content.items()):
            used, template = self._lookup(message, key, plan.chain)
            if position == 0:
                first = used
            if isinstance(template, str):
                fields[field] = template
                continue
            variables = {**self._globals[template], **plan.helpers[used], **context}
            try:
                # What ``template.render(variables)`` does, without copying the
                # variables twice: a fresh context per field over our own dict.
                fields[field] = "".join(
                    template.root_render_func(template.new_context(variables, shared=True))
                )
            # Any failure inside a template (a missing variable, a sandbox violation,
            # a helper given bad data) is one kind of error to the dispatcher.
            except Exception as exc:
                raise RenderError(message, used, key, str(exc)) from exc
        return Rendered(first, fields)

    def _lookup(self, message: str, key: str, chain: tuple[str, ...]) -> tuple[str, Compiled]:
        for used in chain:
            template = self._strings[used].get(key)
            if template is not None:
                return used, template
        # Loading checks that the default locale has every referenced key.
        raise RenderError(message, chain[0], key, "no string with this key in any locale")
