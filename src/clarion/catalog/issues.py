"""What can be wrong with a catalog, and with rendering from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CatalogIssue:
    """One problem in a catalog: the file (relative to the catalog directory), the
    key path inside it (``timing.delay``, ``channels[1].content.body``; empty when the
    whole file is at fault) and what is wrong."""

    file: str
    key: str
    problem: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.key}: {self.problem}"
            if self.key
            else f"{self.file}: {self.problem}"
        )


class CatalogError(Exception):
    """A catalog that cannot be loaded; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[CatalogIssue]) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"invalid catalog ({len(self.issues)} problem(s)):\n{lines}")


class RenderError(Exception):
    """A string that failed to render: a missing variable or a template error.

    Raised by ``Catalog.render``; the message names the message, locale and string key.
    """

    def __init__(self, message: str, locale: str, key: str, problem: str) -> None:
        super().__init__(f"{message}: locale {locale}: {key}: {problem}")
        self.message = message
        self.locale = locale
        self.key = key
        self.problem = problem
