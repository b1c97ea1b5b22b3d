"""What intake refuses before anything is stored: times out of range, and values no
store can hold.

Python's JSON parser (FastAPI's) accepts what the stores cannot take: integers
beyond 64 bits and lone surrogates (orjson, which serializes every JSON column,
refuses them), nesting deeper than orjson's 253 levels, NaN and infinities
(orjson writes them as ``null``, silently), and NUL characters (PostgreSQL's
text refuses them). A request carrying one is refused with a 422 naming its
field, on the framework's routes and the short paths alike, since both validate
through the same models (``clarion.api.schemas``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

#: Containers nested deeper than this are refused: orjson's own limit (a value of
#: 253 nested containers serializes, 254 do not).
MAX_DEPTH: Final = 253
#: The range of integers orjson serializes (signed and unsigned 64-bit).
_MIN_INT: Final = -(2**63)
_MAX_INT: Final = 2**64 - 1
#: No event occurred before this; earlier times are mistakes (and overflow date arithmetic).
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)


def occurred_at_problem(occurred_at: datetime, now: datetime, max_ahead: timedelta) -> str | None:
    """Why ``occurred_at`` cannot be an event's time, or None when it can."""
    if occurred_at < EARLIEST:
        return "must not be before 1970-01-01T00:00:00Z"
    if occurred_at - now > max_ahead:
        return f"must not be more than {max_ahead.total_seconds():g} s in the future"
    return None


def storable_problem(value: Any, where: str) -> str | None:
    """Why ``value`` (parsed JSON, or a validated field) cannot be stored, naming the
    place inside it (``where`` is its own name); None when it can."""
    if isinstance(value, str):
        return _text_problem(value, where)
    if isinstance(value, dict | list):
        # The common case in C: what orjson serializes without a NUL escape or a
        # null (which may have been a NaN) is storable; anything else is walked.
        try:
            dumped = orjson.dumps(value)
        except TypeError:
            pass
        else:
            if b"\\u0000" not in dumped and b"null" not in dumped:
                return None
    return _problem(value, where, 0)


def _problem(value: Any, where: str, depth: int) -> str | None:
    if isinstance(value, str):
        return _text_problem(value, where)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if _MIN_INT <= value <= _MAX_INT else f"{where}: integer outside 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where}: NaN and infinities are not JSON"
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_DEPTH:
            return f"{where}: nested more than {MAX_DEPTH} levels deep"
        return _container_problem(value, where, depth)
    return None  # a validated value of another kind (a datetime, a model)


def _container_problem(
    value: dict[Any, Any] | list[Any] | tuple[Any, ...], where: str, depth: int
) -> str | None:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str):
            inner = f"{where}.{key}"
            problem = _text_problem(key, inner) or _problem(item, inner, depth + 1)
        else:
            problem = _problem(item, f"{where}[{key!r}]", depth + 1)
        if problem:
            return problem
    return None


def _text_problem(text: str, where: str) -> str | None:
    if text.isascii():
        return f"{where}: contains a NUL character" if "\x00" in text else None
    if "\x00" in text:
        return f"{where}: contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{where}: contains a lone surrogate (not a Unicode character)"
    return None
