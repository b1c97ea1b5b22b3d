"""Localized strings (``strings/<locale>.yaml``): flattened to dotted keys and compiled.

Every string is a Jinja2 template, compiled once at load in an immutable sandbox
(copy authors must not reach Python internals, nor change the context that the
fields of one message share), with ``StrictUndefined`` (a missing variable is an
error, never an empty gap in copy) and without autoescaping (the output is copy
markup, not HTML; channels escape).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from clarion.catalog.helpers import NAMES as HELPERS
from clarion.catalog.reader import Where

#: A compiled string: a template, or the text itself when the string has no Jinja
#: syntax (rendering even a constant template costs ~12 us; most copy is constant).
Compiled = Template | str
#: The variables the dispatcher passes to every template.
CONTEXT: Final = ("profile", "event", "event_type")
_KNOWN: Final = frozenset(CONTEXT + HELPERS)
_KEY_PART: Final = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


def environment() -> SandboxedEnvironment:
    """The Jinja2 environment every catalog string is compiled in."""
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True, slots=True)
class LocaleStrings:
    """The strings of one locale: compiled templates, and every key the file declares
    (including keys whose template failed to compile, so they are reported once)."""

    locale: str
    file: str
    templates: Mapping[str, Compiled]
    keys: frozenset[str]


def read_strings(
    where: Where, value: object, locale: str, env: SandboxedEnvironment
) -> LocaleStrings:
    """The strings in one file; problems are recorded at their flattened key."""
    flat: dict[str, str] = {}
    if value is not None:
        _flatten(where, value, "", flat)
    templates: dict[str, Compiled] = {}
    for key, source in flat.items():
        template = _compile(where.at(key), source, env)
        if template is not None:
            templates[key] = template
    return LocaleStrings(locale, where.file, templates, frozenset(flat))


def _flatten(where: Where, value: object, prefix: str, out: dict[str, str]) -> None:
    if not isinstance(value, Mapping):
        where.error("expected a mapping of string keys to text")
        return
    for raw, item in value.items():
        part = str(raw)
        key = f"{prefix}.{part}" if prefix else part
        at = Where(where.file, key, where.issues)
        if not _KEY_PART.fullmatch(part):
            at.error(f"invalid key {part!r} (use letters, digits, '_' and '-')")
        elif isinstance(item, Mapping):
            _flatten(at, item, key, out)
        elif not isinstance(item, str):
            at.error(f"expected text, got {item!r} (quote it to make it text)")
        elif key in out:
            at.error("declared twice (once nested, once as a dotted key)")
        else:
            out[key] = item


def _compile(where: Where, source: str, env: SandboxedEnvironment) -> Compiled | None:
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        where.error(f"template syntax error: {exc.message} (line {exc.lineno})")
        return None
    # A typo in a variable name would otherwise surface only when a message renders.
    unknown = sorted(meta.find_undeclared_variables(tree) - _KNOWN)
    if unknown:
        names = ", ".join(CONTEXT + HELPERS)
        where.error(f"unknown variable {unknown[0]!r} (use one of: {names})")
        return None
    template = env.from_string(tree)
    if not any(mark in source for mark in ("{{", "{%", "{#")):
        # Rendered once here so the text matches Jinja's own (trailing newline, line ends).
        return template.render()
    return template
