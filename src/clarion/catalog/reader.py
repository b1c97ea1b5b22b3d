"""Typed readers for catalog YAML: each checks one value and reports where it went wrong.

A reader returns the converted value, or ``None`` after recording an issue, so a
file is read to its end and every problem in it is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from enum import StrEnum
from typing import Final, TypeAlias, TypeVar

from clarion.catalog.issues import CatalogIssue
from clarion.core.spec import Cap, LocalWindow

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")
#: A reader: converts the value at a place, or records an issue there and gives ``None``.
Read: TypeAlias = Callable[["Where", object], T | None]

_DURATION: Final = re.compile(
    r"(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?"
)
_UNITS: Final = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_CLOCK: Final = re.compile(r"(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)")
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Shape:
    """A pattern a string must match, and the words that explain it to an author."""

    regex: re.Pattern[str]
    explained: str


EVENT_NAME: Final = Shape(
    re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]*"),
    "an event type such as payment.failed: letters, digits, '_', '.', ':', '/', '-'",
)


@dataclass(frozen=True, slots=True)
class Where:
    """A key path in one catalog file, and the list its problems are added to."""

    file: str
    key: str
    issues: list[CatalogIssue]

    def at(self, key: str | int) -> Where:
        """The place of a child: ``.name`` for a mapping key, ``[i]`` for a list item."""
        if isinstance(key, int):
            return Where(self.file, f"{self.key}[{key}]", self.issues)
        return Where(self.file, f"{self.key}.{key}" if self.key else key, self.issues)

    def error(self, problem: str) -> None:
        self.issues.append(CatalogIssue(self.file, self.key, problem))


def mapping(
    where: Where, value: object, allowed: Iterable[str], required: Iterable[str] = ()
) -> Mapping[str, object] | None:
    """A mapping with string keys, only ``allowed`` ones, and every ``required`` one."""
    if not isinstance(value, Mapping):
        where.error(f"expected a mapping, got {_kind(value)}")
        return None
    known = tuple(allowed)
    for key in value:
        if not isinstance(key, str):
            where.error(f"keys must be strings, got {key!r}")
        elif key not in known:
            where.at(key).error(f"unknown key (allowed: {', '.join(known)})")
    for key in required:
        if key not in value:
            where.at(key).error("missing required key")
    return {k: v for k, v in value.items() if isinstance(k, str) and k in known}


def text(where: Where, value: object, shape: Shape | None = None) -> str | None:
    """A non-empty string, of the given ``shape`` if any."""
    if not isinstance(value, str) or not value.strip():
        where.error(f"expected a non-empty string, got {_kind(value)}")
        return None
    if shape is not None and not shape.regex.fullmatch(value):
        where.error(f"invalid value {value!r} (use {shape.explained})")
        return None
    return value


def positive_int(where: Where, value: object) -> int | None:
    """An integer above zero (YAML ``true`` is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        where.error(f"expected a positive integer, got {value!r}")
        return None
    return value


def choice(where: Where, value: object, options: type[E]) -> E | None:
    """One member of a string enum, given by its value."""
    if isinstance(value, str):
        try:
            return options(value)
        except ValueError:
            pass
    names = ", ".join(m.value for m in options)
    where.error(f"invalid value {value!r} (use one of: {names})")
    return None


def text_list(where: Where, value: object, shape: Shape | None = None) -> tuple[str, ...] | None:
    """A list of non-empty strings."""
    if not isinstance(value, list):
        where.error(f"expected a list, got {_kind(value)}")
        return None
    items = [text(where.at(i), item, shape) for i, item in enumerate(value)]
    return tuple(i for i in items if i is not None) if None not in items else None


def duration(where: Where, value: object, allow_zero: bool = False) -> timedelta | None:
    """A duration such as ``90s``, ``15m``, ``24h``, ``7d``, ``2w`` or ``1h30m``."""
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or not any(match.groupdict().values()):
        where.error(f"invalid duration {value!r} (use e.g. 90s, 15m, 24h, 7d)")
        return None
    parts = {_UNITS[unit]: int(n) for unit, n in match.groupdict().items() if n}
    span = timedelta(**parts)
    if not span and not allow_zero:
        where.error(f"duration {value!r} must be longer than zero")
        return None
    return span


def clock(where: Where, value: object) -> time | None:
    """A local wall-clock time ``HH:MM``."""
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        where.error(f'invalid time {value!r} (use HH:MM, e.g. "09:00")')
        return None
    return time(int(match["h"]), int(match["m"]))


def local_window(where: Where, value: object, with_days: bool = True) -> LocalWindow | None:
    """``{start: "09:00", end: "21:00", days: [mon, ...]}``; ``days`` defaults to every day."""
    allowed = ("start", "end", "days") if with_days else ("start", "end")
    data = mapping(where, value, allowed, required=("start", "end"))
    if data is None:
        return None
    start = clock(where.at("start"), data["start"]) if "start" in data else None
    end = clock(where.at("end"), data["end"]) if "end" in data else None
    days = _days(where.at("days"), data["days"]) if "days" in data else frozenset(range(1, 8))
    if start is None or end is None or days is None:
        return None
    return LocalWindow(start, end, days)


def _days(where: Where, value: object) -> frozenset[int] | None:
    names = text_list(where, value)
    if names is None:
        return None
    if not names:
        where.error("needs at least one day")
        return None
    days: set[int] = set()
    for i, name in enumerate(names):
        if name.lower() not in DAYS:
            where.at(i).error(f"invalid day {name!r} (use {', '.join(DAYS)})")
            return None
        days.add(DAYS.index(name.lower()) + 1)
    return frozenset(days)


def caps(where: Where, value: object, prefix: str) -> tuple[Cap, ...] | None:
    """A list of ``{limit, window, name?}``; a missing name is ``<prefix>:<limit>/<window>``."""
    if not isinstance(value, list):
        where.error(f"expected a list, got {_kind(value)}")
        return None
    found = [_cap(where.at(i), item, prefix) for i, item in enumerate(value)]
    return tuple(c for c in found if c is not None) if None not in found else None


def _cap(where: Where, value: object, prefix: str) -> Cap | None:
    data = mapping(where, value, ("limit", "window", "name"), required=("limit", "window"))
    if data is None:
        return None
    limit = positive_int(where.at("limit"), data["limit"]) if "limit" in data else None
    window = duration(where.at("window"), data["window"]) if "window" in data else None
    name = text(where.at("name"), data["name"]) if "name" in data else None
    if limit is None or window is None or ("name" in data and name is None):
        return None
    return Cap(name or f"{prefix}:{limit}/{str(data['window']).strip()}", limit, window)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def optional(where: Where, data: Mapping[str, object], key: str, read: Read[T]) -> T | None:
    """``read`` applied to an optional key, or ``None`` when the key is absent."""
    return read(where.at(key), data[key]) if key in data else None
