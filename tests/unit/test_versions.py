"""App-version ranges: comparators, alternatives, padding with zeros, decorated versions."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.core.versions import VersionRange, VersionRangeError, parse_version


def test_parse_version_drops_trailing_zeros_and_decoration() -> None:
    assert parse_version("9") == parse_version("9.0.0") == (9,)
    assert parse_version("8.2.1-beta") == (8, 2, 1)
    assert parse_version(" 16.4 (1234)") == (16, 4)
    assert parse_version("0") == (0,)
    assert parse_version("beta") is None
    assert parse_version("") is None


@pytest.mark.parametrize(
    ("spelled", "inside", "outside"),
    [
        (">=16.0", ["16", "16.0.1", "17.2"], ["15.9", "15.99.99"]),
        (">=8.2 <9", ["8.2", "8.2.0", "8.10"], ["8.1.9", "9", "9.0.1"]),
        (">=8.2 <9 || >=9.0.1", ["8.5", "9.0.1", "12"], ["9.0", "8.1"]),
        ("=2.1", ["2.1", "2.1.0"], ["2.1.1"]),
        ("2.1", ["2.1.0"], ["2.2"]),
        ("!=3.0.2 >3", ["3.0.1", "3.1"], ["3.0.2", "3", "2.9"]),
        ("<=1.2", ["1.2.0", "1"], ["1.2.1"]),
    ],
)
def test_contains(spelled: str, inside: list[str], outside: list[str]) -> None:
    versions = VersionRange.parse(spelled)
    assert str(versions) == spelled
    assert all(versions.contains(v) for v in inside), inside
    assert not any(versions.contains(v) for v in outside), outside


def test_a_device_without_a_version_matches_no_range() -> None:
    assert not VersionRange.parse(">=0").contains("unknown")


@pytest.mark.parametrize("spelled", ["", "  ", ">=", "=>1", ">=1 ||", "1.x", "v2", ">= 1", "1..2"])
def test_invalid_ranges(spelled: str) -> None:
    with pytest.raises(VersionRangeError):
        VersionRange.parse(spelled)


versions = st.lists(st.integers(0, 30), min_size=1, max_size=4)


def spell(numbers: list[int]) -> str:
    return ".".join(map(str, numbers))


def padded(numbers: list[int]) -> tuple[int, ...]:
    return tuple(numbers + [0] * (4 - len(numbers)))


@given(versions, versions, versions)
def test_half_open_range_is_numeric_comparison(
    low: list[int], high: list[int], v: list[int]
) -> None:
    within = VersionRange.parse(f">={spell(low)} <{spell(high)}").contains(spell(v))
    assert within == (padded(low) <= padded(v) < padded(high))


@given(versions, versions)
def test_alternatives_are_a_union(a: list[int], v: list[int]) -> None:
    below, above = VersionRange.parse(f"<{spell(a)}"), VersionRange.parse(f">={spell(a)}")
    either = VersionRange.parse(f"<{spell(a)} || >={spell(a)}")
    assert below.contains(spell(v)) != above.contains(spell(v))
    assert either.contains(spell(v))
