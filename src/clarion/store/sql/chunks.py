"""Splitting long id lists into ``IN (...)`` lists both databases accept."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

#: Ids per ``IN (...)`` list: far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
