"""Experiments and holdouts: which cell of an A/B/n test a profile is in, and whether a
profile is held out of a message.

Both are a salted hash of the profile id mapped to a number uniform in [0, 1):
deterministic (the same profile gets the same answer on every device, in every
process, after every restart), and independent between two uses with different
salts (the hash of one salt says nothing about the hash of another). Pure and
stdlib only: ``decide()`` calls it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import accumulate

#: 2**64: the hash's 8 bytes as an integer, divided by this, lie in [0, 1).
_SCALE = float(1 << 64)


def unit_hash(salt: str, key: str) -> float:
    """A number in [0, 1) that depends only on ``salt`` and ``key``, uniformly spread."""
    digest = blake2b(f"{salt}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass(frozen=True, slots=True)
class Cell:
    """One arm of a test: its name, its share of profiles (relative weight), and the
    message keys it overrides (``content``, ``channels``, ``timing``, ``caps``)."""

    name: str
    weight: float
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Experiment:
    """An A/B/n test of one message. Cell 0 is the control; ``abTestCell`` is a cell's
    index and ``abTestId`` the test's ``id`` in tracking data."""

    id: int
    salt: str
    cells: tuple[Cell, ...]
    #: Derived: the cumulative shares of the cells, the last one 1.0.
    bounds: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        total = sum(c.weight for c in self.cells)
        if not self.cells or total <= 0:
            raise ValueError("an experiment needs cells with positive total weight")
        bounds = [b / total for b in accumulate(c.weight for c in self.cells)]
        bounds[-1] = 1.0  # rounding must never leave a sliver outside every cell
        object.__setattr__(self, "bounds", tuple(bounds))

    @property
    def shares(self) -> tuple[float, ...]:
        """Each cell's declared share of profiles (weights normalised to sum to 1)."""
        return tuple(b - a for a, b in zip((0.0, *self.bounds), self.bounds, strict=False))

    def allocate(self, profile_id: str) -> int:
        """The index of the cell ``profile_id`` is in."""
        return allocate(self.salt, self.id, profile_id, self.bounds)


def allocate(salt: str, test_id: int, profile_id: str, bounds: tuple[float, ...]) -> int:
    """The cell of ``profile_id`` in test ``test_id``, by cumulative shares ``bounds``."""
    u = unit_hash(f"ab:{salt}:{test_id}", profile_id)
    return min(bisect_right(bounds, u), len(bounds) - 1)


def holdout_salt(message: str) -> str:
    """The salt of a message's holdout; never an experiment's (those start ``ab:``)."""
    return f"holdout:{message}"


def is_held_out(message: str, profile_id: str, share: float) -> bool:
    """Whether ``profile_id`` is in the held-out ``share`` of ``message``.

    Per (message, profile): a profile is held out of a message every time it is
    decided, so its outcome measures a world without that message, not one with
    fewer copies of it."""
    return share > 0.0 and unit_hash(holdout_salt(message), profile_id) < share
