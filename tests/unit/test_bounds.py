"""What intake refuses as unstorable is exactly what the stores' serializer refuses,
plus NaN (written as null) and NUL (refused by PostgreSQL's text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from clarion.api.bounds import MAX_DEPTH, occurred_at_problem, storable_problem


def _nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels - 1):
        value = [value]
    return value


def _serializes(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("levels", [1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 400])
def test_the_depth_limit_is_the_serializers(levels: int) -> None:
    value = _nested(levels)
    assert (storable_problem(value, "payload") is None) == _serializes(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (2**64 - 1, True),
        (2**64, False),
        (-(2**63), True),
        (-(2**63) - 1, False),
        (1.5, True),
        (float("nan"), False),
        (float("inf"), False),
        ("fine é ☃", True),
        ("a\x00b", False),
        ("\ud800", False),
        (None, True),
        (True, True),
    ],
)
def test_values_inside_a_payload(value: Any, ok: bool) -> None:
    for payload in ({"x": value}, {"x": [1, {"y": value}]}, {"null": [None, value]}):
        problem = storable_problem(payload, "payload")
        assert (problem is None) == ok, (payload, problem)
        if ok:
            assert _serializes(payload)


def test_a_problem_names_its_place() -> None:
    assert storable_problem({"a": [0, {"b": 2**70}]}, "payload") == (
        "payload.a[1].b: integer outside 64 bits"
    )
    assert storable_problem({"k\x00": 1}, "attributes") == (
        "attributes.k\x00: contains a NUL character"
    )
    assert storable_problem("x\x00", "email") == "email: contains a NUL character"


def test_event_times() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert occurred_at_problem(now + hour, now, hour) is None
    assert occurred_at_problem(now + hour + timedelta(seconds=1), now, hour)
    assert occurred_at_problem(datetime(1970, 1, 1, tzinfo=UTC), now, hour) is None
    assert occurred_at_problem(datetime(1969, 12, 31, 23, 59, tzinfo=UTC), now, hour)
    assert occurred_at_problem(datetime(9999, 12, 31, tzinfo=UTC), now, hour)
