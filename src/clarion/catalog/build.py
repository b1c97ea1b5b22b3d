"""Reading a catalog directory: every file, then the checks across files.

Each file is read to its end and problems are collected, never raised, so one
run reports everything wrong with a catalog.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from clarion.catalog.experiments import with_default_holdout
from clarion.catalog.issues import CatalogIssue
from clarion.catalog.locales import normalize
from clarion.catalog.messages import MessageFile, read_message_file
from clarion.catalog.policy import read_policy
from clarion.catalog.reader import Where
from clarion.catalog.strings import LocaleStrings, environment, read_strings
from clarion.catalog.yamlio import YAMLError, load_yaml
from clarion.core.spec import CatalogSpec, Policy

POLICY_FILE = "clarion.yaml"
MESSAGES_DIR = "messages"
STRINGS_DIR = "strings"


@dataclass(frozen=True, slots=True)
class Parts:
    """What a catalog directory holds once every file has been read without error."""

    spec: CatalogSpec
    strings: dict[str, LocaleStrings]  # locale tag -> strings; the default is among them


def build(root: Path) -> tuple[Parts | None, list[CatalogIssue]]:
    """The catalog under ``root`` and every problem found in it (``None`` if any)."""
    issues: list[CatalogIssue] = []
    if not root.is_dir():
        return None, [CatalogIssue(str(root), "", "catalog directory not found")]
    policy, declared = _policy(root, issues)
    messages = _messages(root, issues)
    strings = _strings(root, issues)
    default = _default_locale(declared, strings, issues)
    if default is not None:
        _check_references(messages, strings[default], issues)
    _check_test_ids(messages, issues)
    if issues or policy is None or default is None:
        return None, issues
    specs = [
        with_default_holdout(m.spec, policy.holdout, m.declares_holdout)
        for m in messages
        if m.spec is not None
    ]
    policy = replace(policy, default_locale=default)
    return Parts(CatalogSpec({m.name: m for m in specs}, policy), strings), issues


def _files(root: Path, folder: str, issues: list[CatalogIssue]) -> Iterator[tuple[Path, Where]]:
    directory = root / folder
    if not directory.is_dir():
        return
    for path in sorted(directory.iterdir()):
        if path.name.startswith("."):
            continue  # editor swap files, .gitkeep
        where = Where(path.relative_to(root).as_posix(), "", issues)
        if path.suffix != ".yaml" or not path.is_file():
            where.error("unexpected file (catalog files end in .yaml)")
            continue
        yield path, where


def _load(path: Path, where: Where) -> tuple[bool, object]:
    try:
        return True, load_yaml(path)
    except YAMLError as exc:
        Where(where.file, f"line {exc.line}" if exc.line else "", where.issues).error(
            f"invalid YAML: {exc.problem}"
        )
        return False, None


def _policy(root: Path, issues: list[CatalogIssue]) -> tuple[Policy | None, str | None]:
    """The policy, and the default locale it declares (read even if the rest is invalid)."""
    path = root / POLICY_FILE
    if not path.exists():
        return Policy(), Policy().default_locale  # every policy key has a default
    where = Where(POLICY_FILE, "", issues)
    ok, data = _load(path, where)
    if not ok:
        return None, None
    policy = read_policy(where, data)
    declared = data.get("default_locale", "en") if isinstance(data, Mapping) else "en"
    return policy, declared if isinstance(declared, str) else None


def _messages(root: Path, issues: list[CatalogIssue]) -> list[MessageFile]:
    found: list[MessageFile] = []
    owners: dict[int, str] = {}
    for path, where in _files(root, MESSAGES_DIR, issues):
        ok, data = _load(path, where)
        if not ok:
            continue
        message = read_message_file(where, data, path.stem)
        if message.id is not None and message.id in owners:
            where.at("id").error(f"id {message.id} is already used by {owners[message.id]}")
        elif message.id is not None:
            owners[message.id] = where.file
        found.append(message)
    return found


def _strings(root: Path, issues: list[CatalogIssue]) -> dict[str, LocaleStrings]:
    env = environment()
    found: dict[str, LocaleStrings] = {}
    for path, where in _files(root, STRINGS_DIR, issues):
        locale = normalize(path.stem)
        if locale is None:
            where.error(
                f"unknown locale {path.stem!r} (name strings files by locale: en.yaml, pt-BR.yaml)"
            )
            continue
        if locale in found:
            where.error(f"locale {locale} is already defined by {found[locale].file}")
            continue
        ok, data = _load(path, where)
        if ok:
            found[locale] = read_strings(where, data, locale, env)
    return found


def _default_locale(
    declared: str | None, strings: dict[str, LocaleStrings], issues: list[CatalogIssue]
) -> str | None:
    if declared is None:
        return None  # already reported as a policy problem
    default = normalize(declared)
    if default is None:
        Where(POLICY_FILE, "default_locale", issues).error(f"unknown locale {declared!r}")
        return None
    if default not in strings:
        file = f"{STRINGS_DIR}/{declared}.yaml"
        Where(file, "", issues).error(f"missing: the default locale {default} needs a strings file")
        return None
    return default


def _check_references(
    messages: list[MessageFile], default: LocaleStrings, issues: list[CatalogIssue]
) -> None:
    """Every string key a message uses must exist in the default locale, the last fallback."""
    for message in messages:
        for path, key in message.references:
            if key not in default.keys:
                where = Where(message.file, path, issues)
                where.error(f"string key {key!r} is missing from {default.file}")


def _check_test_ids(messages: list[MessageFile], issues: list[CatalogIssue]) -> None:
    """An experiment id names one test: two messages cannot share it."""
    owners: dict[int, str] = {}
    for message in messages:
        test = message.spec.experiment if message.spec else None
        if test is None:
            continue
        if test.id in owners:
            where = Where(message.file, "experiment.id", issues)
            where.error(f"experiment id {test.id} is already used by {owners[test.id]}")
        else:
            owners[test.id] = message.file
