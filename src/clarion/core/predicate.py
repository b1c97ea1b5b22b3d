"""A small, safe predicate language for trigger conditions and segments.

Catalog files declare predicates as plain YAML data::

    plan: {in: [basic, standard]}        # one path, one operator
    amount: {gt: 10}
    any: [{country: BR}, {country: PT}]  # combinators: all, any, not
    attributes.watchlist: {contains: show-42}
    attributes.watchlist: {contains: {event: show_id}}   # an operand read from the event

A segment is evaluated on a ``Subject`` (the profile and the triggering event's
payload): paths read the profile, and an operand written ``{event: path}`` reads
the payload, so "the show of this event is in the profile's watchlist" is one rule.

A mapping is the AND of its entries; a bare scalar means equality. Predicates
are compiled once, at catalog load, into plain closures, so evaluating one in
``decide()`` costs a few attribute lookups and no parsing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

Getter = Callable[[object], object]
Predicate = Callable[[object], bool]
Test = Callable[[object, object], bool]  # (value at the path, the whole root)

_MISSING: Final = object()
_COMBINATORS: Final = ("all", "any", "not")


class PredicateError(ValueError):
    """A predicate that cannot be compiled; ``path`` names the offending key."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _compare(op: str, expected: object) -> Callable[[object], bool]:
    bound = _number(expected)
    if bound is None and not isinstance(expected, str):
        raise ValueError(f"'{op}' needs a number or a string, got {expected!r}")

    def key(value: object) -> float | str | None:
        if bound is not None:
            return _number(value)
        return value if isinstance(value, str) else None

    target = bound if bound is not None else expected
    tests: dict[str, Callable[[object, object], bool]] = {
        "gt": lambda a, b: a > b,  # type: ignore[operator]
        "gte": lambda a, b: a >= b,  # type: ignore[operator]
        "lt": lambda a, b: a < b,  # type: ignore[operator]
        "lte": lambda a, b: a <= b,  # type: ignore[operator]
    }
    test = tests[op]

    def check(value: object) -> bool:
        k = key(value)
        return k is not None and test(k, target)

    return check


def _in(expected: object, negate: bool) -> Callable[[object], bool]:
    if not isinstance(expected, list | tuple):
        raise ValueError(f"needs a list, got {expected!r}")
    options = frozenset(str(v) if not isinstance(v, int | float) else v for v in expected)

    def check(value: object) -> bool:
        found = value is not _MISSING and _hashable(value) in options
        return found != negate

    return check


def _hashable(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _contains(expected: object) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if isinstance(value, str) and isinstance(expected, str):
            return expected in value
        if isinstance(value, list | tuple | frozenset | set):
            return expected in value
        return False

    return check


def _operator(op: str, expected: object) -> Callable[[object], bool]:
    if op == "eq":
        return lambda v: v is not _MISSING and v == expected
    if op == "ne":
        return lambda v: v is _MISSING or v != expected
    if op in ("in", "not_in"):
        return _in(expected, negate=op == "not_in")
    if op in ("gt", "gte", "lt", "lte"):
        return _compare(op, expected)
    if op == "exists":
        if not isinstance(expected, bool):
            raise ValueError("'exists' needs true or false")
        return lambda v: (v is not _MISSING and v is not None) == expected
    if op == "contains":
        return _contains(expected)
    if op == "starts_with":
        if not isinstance(expected, str):
            raise ValueError("'starts_with' needs a string")
        return lambda v: isinstance(v, str) and v.startswith(expected)
    raise ValueError(
        f"unknown operator '{op}' (use eq, ne, in, not_in, gt, gte, lt, lte, "
        "exists, contains, starts_with)"
    )


def _static(check: Callable[[object], bool]) -> Test:
    return lambda value, _root: check(value)


def _dynamic(op: str, ref: Getter) -> Test:
    """A test whose operand is read from the root at evaluation time."""

    def check(value: object, root: object) -> bool:
        expected = ref(root)
        if expected is _MISSING:
            return op in ("ne", "not_in")
        try:
            return _operator(op, expected)(value)
        except ValueError:  # e.g. 'gt' against a list: no match rather than an error
            return False

    return check


def mapping_getter(parts: Sequence[str]) -> Getter:
    """A getter that walks nested mappings by key; missing keys give a sentinel."""
    head, *rest = parts

    def get(root: object) -> object:
        value = root.get(head, _MISSING) if isinstance(root, Mapping) else _MISSING
        for part in rest:
            if not isinstance(value, Mapping):
                return _MISSING
            value = value.get(part, _MISSING)
        return value

    return get


def attribute_getter(parts: Sequence[str]) -> Getter:
    """A getter that reads an attribute of an object, then walks nested mappings."""
    head, *rest = parts
    inner = mapping_getter(rest) if rest else None

    def get(root: object) -> object:
        value = getattr(root, head, _MISSING)
        return inner(value) if inner is not None else value

    return get


class Compiler:
    """Compiles predicate data into closures over one kind of root object.

    ``roots`` limits the first segment of every path (for profiles: the fields a
    segment may read); ``getter`` turns a split path into a value reader.
    """

    def __init__(
        self,
        getter: Callable[[Sequence[str]], Getter] = mapping_getter,
        roots: frozenset[str] | None = None,
        refs: Mapping[str, Callable[[Sequence[str]], Getter]] | None = None,
    ) -> None:
        self._getter = getter
        self._roots = roots
        self._refs = refs or {}

    def compile(self, spec: object, path: str = "") -> Predicate:
        if not isinstance(spec, Mapping) or not spec:
            raise PredicateError(path, "a predicate must be a non-empty mapping")
        parts = [self._entry(str(key), value, _join(path, str(key))) for key, value in spec.items()]
        if len(parts) == 1:
            return parts[0]
        return lambda root: all(p(root) for p in parts)

    def _entry(self, key: str, value: object, path: str) -> Predicate:
        if key in _COMBINATORS:
            return self._combinator(key, value, path)
        split = key.split(".")
        if any(not part for part in split):
            raise PredicateError(path, "empty segment in path")
        if self._roots is not None and split[0] not in self._roots:
            allowed = ", ".join(sorted(self._roots))
            raise PredicateError(path, f"unknown field '{split[0]}' (use one of: {allowed})")
        get = self._getter(split)
        tests = self._tests(value, path)
        if len(tests) == 1:
            test = tests[0]
            return lambda root: test(get(root), root)
        return lambda root: all(t(v, root) for v in (get(root),) for t in tests)

    def _tests(self, value: object, path: str) -> list[Test]:
        if not isinstance(value, Mapping):
            return [_static(_operator("eq", value))]
        if not value:
            raise PredicateError(path, "no operator given")
        tests = []
        for op, expected in value.items():
            where = _join(path, str(op))
            try:
                ref = self._ref(expected, where)
                if ref is None:
                    tests.append(_static(_operator(str(op), expected)))
                else:
                    _operator(str(op), None if op != "exists" else True)  # validate the name
                    tests.append(_dynamic(str(op), ref))
            except ValueError as exc:
                raise PredicateError(where, str(exc)) from None
        return tests

    def _ref(self, operand: object, path: str) -> Getter | None:
        """A getter for an operand written ``{event: path}``, or None for a literal."""
        if not (isinstance(operand, Mapping) and len(operand) == 1):
            return None
        [(kind, where)] = operand.items()
        factory = self._refs.get(str(kind))
        if factory is None:
            known = ", ".join(sorted(self._refs)) or "none here"
            raise ValueError(f"unknown operand reference '{kind}' (references: {known})")
        if not isinstance(where, str) or not all(where.split(".")):
            raise ValueError(f"'{kind}' needs a dotted path")
        return factory(where.split("."))

    def _combinator(self, key: str, value: object, path: str) -> Predicate:
        if key == "not":
            inner = self.compile(value, path)
            return lambda root: not inner(root)
        if not isinstance(value, list) or not value:
            raise PredicateError(path, f"'{key}' needs a non-empty list of predicates")
        parts = [self.compile(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if key == "all":
            return lambda root: all(p(root) for p in parts)
        return lambda root: any(p(root) for p in parts)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def holds(op: str, expected: object, value: object) -> bool:
    """Whether one test passes: the operator ``op`` with a literal operand, applied to
    ``value`` (``MISSING`` when the path is absent). For explaining a false predicate."""
    return _operator(op, expected)(value)


#: What a getter returns for an absent path.
MISSING: Final = _MISSING
