"""App-version ranges: ``>=16.0``, ``>=8.2 <9``, ``>=2.1 <3 || >=4``.

A range is one or more alternatives separated by ``||``; an alternative is one or
more comparators separated by spaces, all of which must hold. A comparator is an
operator (``>=``, ``>``, ``<=``, ``<``, ``=``, ``==``, ``!=``; none means ``=``)
and a version of dot-separated numbers. Versions compare number by number with
missing numbers as zero, so ``9`` equals ``9.0.0``.

Device app versions come from outside and are often decorated (``8.2.1-beta``,
``16.4 (1234)``): their leading dotted numbers are the version, and a device
whose version has none matches no range.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

Version = tuple[int, ...]

_NUMBERS: Final = re.compile(r"\d+(?:\.\d+)*")
_COMPARATOR: Final = re.compile(r"(?P<op>>=|<=|==|!=|>|<|=)?(?P<version>\d+(?:\.\d+)*)")
_OPERATORS: Final[dict[str, Callable[[Version, Version], bool]]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
}
#: Longer than any real version number; beyond it the input is not a version.
_MAX_LENGTH: Final = 64


class VersionRangeError(ValueError):
    """A range that does not parse; the message says which part and why."""


def parse_version(text: str) -> Version | None:
    """The version at the start of ``text`` (trailing zeros dropped), or ``None``."""
    match = _NUMBERS.match(text.strip()[:_MAX_LENGTH])
    if match is None:
        return None
    numbers = [int(n) for n in match.group().split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()  # so that 9, 9.0 and 9.0.0 compare equal as tuples
    return tuple(numbers)


@dataclass(frozen=True, slots=True)
class Comparator:
    """One test of a version: ``operator`` applied to (device version, ``version``)."""

    operator: str
    version: Version

    def __call__(self, version: Version) -> bool:
        return _OPERATORS[self.operator](version, self.version)


@dataclass(frozen=True, slots=True)
class VersionRange:
    """Versions that satisfy every comparator of at least one alternative.

    ``text`` is the range as written, kept for messages and round trips.
    """

    text: str
    alternatives: tuple[tuple[Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """The range ``text`` spells; raises ``VersionRangeError``."""
        if not text.strip():
            raise VersionRangeError("empty version range")
        alternatives = []
        for part in text.split("||"):
            words = part.split()
            if not words:
                raise VersionRangeError(f"empty alternative in {text!r}")
            alternatives.append(tuple(_comparator(word) for word in words))
        return cls(text.strip(), tuple(alternatives))

    def contains(self, app_version: str) -> bool:
        """Whether a device's ``app_version`` is in the range (never for a non-version)."""
        version = parse_version(app_version)
        if version is None:
            return False
        return any(all(test(version) for test in tests) for tests in self.alternatives)

    def __str__(self) -> str:
        return self.text


def _comparator(word: str) -> Comparator:
    match = _COMPARATOR.fullmatch(word)
    if match is None:
        raise VersionRangeError(
            f"invalid comparator {word!r} (use an operator >=, >, <=, <, =, != and a version "
            "such as 8.2)"
        )
    version = parse_version(match["version"])
    assert version is not None  # the pattern matched dotted numbers
    return Comparator(match["op"] or "=", version)
