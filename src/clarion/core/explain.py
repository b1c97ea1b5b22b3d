"""Why a trigger condition was false for an event: the test that failed, with the
field, the operator, the operand and the value the event had.

Pure. It walks the condition as the catalog declares it (``MessageSpec.condition_data``)
and applies the same operators as the compiled predicate (``predicate.holds``), so it
cannot disagree with the decision it explains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clarion.core.model import Event
from clarion.core.predicate import MISSING, holds, mapping_getter
from clarion.core.spec import CatalogSpec


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


@dataclass(frozen=True, slots=True)
class Trigger:
    """A catalog message whose trigger is the event's type, and the test its
    condition failed for the event (``None``: the condition held, or it has none)."""

    message: str
    miss: Miss | None = None


def triggers(event: Event, catalog: CatalogSpec) -> tuple[Trigger, ...]:
    """Every message of ``catalog`` that ``event``'s type triggers, with why its
    condition did not hold, in the order ``decide()`` considers them."""
    found = []
    for spec in catalog.by_trigger.get(event.type, ()):
        miss = None
        # The compiled predicate decides, as in decide(); the declared one explains.
        if spec.condition is not None and not spec.condition(event.payload):
            miss = explain(spec.condition_data, event.payload) or Miss("", "unexplained", None)
        found.append(Trigger(spec.name, miss))
    return tuple(found)
