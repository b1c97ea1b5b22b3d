"""Why a trigger condition was false for an event: the test that failed, with the
field, the operator, the operand and the value the event had.

Pure. It walks the condition as the catalog declares it (``MessageSpec.condition_data``)
and applies the same operators as the compiled predicate (``predicate.holds``), so it
cannot disagree with the decision it explains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clarion.core.predicate import MISSING, holds, mapping_getter


@dataclass(frozen=True, slots=True)
class Miss:
    """A failed test. ``value`` is what the event had (``None`` when ``present`` is
    False); ``type_mismatch`` says the value and the operand are of different kinds
    (the text ``"9.99"`` against the number ``0``). A failed ``any`` lists each
    alternative's miss; a failed ``not`` names the predicate that held."""

    field: str
    operator: str
    expected: object
    value: object = None
    present: bool = False
    type_mismatch: bool = False
    alternatives: tuple[Miss, ...] = ()


def explain(condition: object, payload: object, path: str = "") -> Miss | None:
    """The first test of ``condition`` that ``payload`` fails; None when it holds."""
    if not isinstance(condition, Mapping):
        return None
    for key, value in condition.items():
        if key == "all" and isinstance(value, list):
            miss = next((m for m in (explain(v, payload, path) for v in value) if m), None)
        elif key == "any" and isinstance(value, list):
            misses = tuple(explain(v, payload, path) for v in value)
            miss = None
            if all(misses):
                miss = Miss(path or "any", "any", value, alternatives=tuple(m for m in misses if m))
        elif key == "not":
            miss = (
                Miss(path or "not", "not", value) if explain(value, payload, path) is None else None
            )
        else:
            miss = _leaf(str(key), value, payload)
        if miss is not None:
            return miss
    return None


def _leaf(field: str, tests: object, payload: object) -> Miss | None:
    found = mapping_getter(field.split("."))(payload)
    present = found is not MISSING
    checks = tests.items() if isinstance(tests, Mapping) else (("eq", tests),)
    for op, expected in checks:
        if holds(str(op), expected, found):
            continue
        value = found if present else None
        mismatch = present and not _same_kind(str(op), expected, found)
        return Miss(field, str(op), expected, value, present, mismatch)
    return None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return "null"


def _same_kind(op: str, expected: object, value: object) -> bool:
    """Whether ``value`` is of a kind ``op`` can compare with ``expected``."""
    if op == "exists":
        return True
    if op in ("in", "not_in") and isinstance(expected, list | tuple):
        return any(_kind(value) == _kind(option) for option in expected)
    if op == "contains":
        return _kind(value) in ("string", "list")
    if op == "starts_with":
        return _kind(value) == "string"
    return _kind(value) == _kind(expected)
