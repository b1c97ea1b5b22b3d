"""Locale tags, fallback chains and the locale numbers and dates are formatted in.

Catalog locales are BCP 47 style tags (``en``, ``pt-BR``, ``zh-Hant-TW``); files and
requests may spell them with ``_`` or in any case. A request falls back along its
own ancestors (``pt-BR`` -> ``pt``), then to a catalog locale of the same language
(a Portuguese reader prefers Brazilian copy to English), then to the default.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import parse_locale


def _parts(identifier: str) -> tuple[str, str | None, str | None, str | None] | None:
    """(language, script, territory, variant) as written, or ``None`` if malformed."""
    try:
        language, territory, script, variant = parse_locale(
            identifier.strip().replace("_", "-"), sep="-"
        )[:4]
    except ValueError:
        return None
    return language, script, territory, variant


def normalize(identifier: str) -> str | None:
    """The tag ``identifier`` spells (``pt_br`` -> ``pt-BR``), or ``None`` when it is
    malformed or a locale Babel has no data for."""
    parts = _parts(identifier)
    if parts is None:
        return None
    tag = "-".join(p for p in parts if p)
    return tag if babel_locale(tag) is not None else None


@lru_cache(maxsize=1024)
def babel_locale(tag: str) -> Locale | None:
    """The Babel locale for a tag, or ``None`` when Babel does not know it."""
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def _ancestors(
    language: str, script: str | None, territory: str | None, var: str | None
) -> list[str]:
    forms = [
        (language, script, territory, var),
        (language, script, territory, None),
        (language, None, territory, None),
        (language, script, None, None),
        (language, None, None, None),
    ]
    return ["-".join(p for p in form if p) for form in forms]


def fallback_chain(requested: str, available: Collection[str], default: str) -> tuple[str, ...]:
    """The catalog locales to try for ``requested``, best first, ending with ``default``.

    ``available`` holds normalized tags; a malformed request gets just the default.
    """
    parts = _parts(requested)
    if parts is None:
        return (default,)
    candidates = _ancestors(*parts)
    # Babel adds likely subtags (zh-TW -> zh-Hant-TW), which match more catalog files.
    expanded = babel_locale("-".join(p for p in parts if p))
    if expanded is not None:
        candidates += _ancestors(
            expanded.language, expanded.script, expanded.territory, expanded.variant
        )
    by_lower = {tag.lower(): tag for tag in available}
    chain = [by_lower[c.lower()] for c in candidates if c.lower() in by_lower]
    language = parts[0].lower()
    chain += sorted(tag for tag in available if tag.split("-")[0].lower() == language)
    chain.append(default)
    return tuple(dict.fromkeys(chain))


def best_locale(requested: str, available: Collection[str], default: str) -> str:
    """The catalog locale whose copy a reader of ``requested`` should get."""
    return fallback_chain(requested, available, default)[0]


def format_locale(requested: str, used: str) -> Locale:
    """The locale to format numbers and dates in, for copy found in locale ``used``.

    The reader's own locale when it has the same language (a ``pt-BR`` reader of
    ``pt`` copy sees ``R$ 1.234,50``); otherwise the copy's, so that English copy
    does not carry Portuguese numbers.
    """
    copy = babel_locale(used) or Locale("en")
    reader = babel_locale(requested)
    if reader is not None and reader.language == copy.language:
        return reader
    return copy
