"""Per-profile conversion data of an experiment arm, kept as exact sufficient statistics.

A profile may receive a message several times, so its decisions are not independent:
the unit of independence is the profile (the cluster). An arm therefore keeps, over its
profiles ``i`` with ``n_i`` decisions of which ``y_i`` converted, the sums ``Σn``,
``Σy``, ``Σy²``, ``Σyn`` and ``Σn²``: enough for the ratio estimator ``Σy / Σn`` and its
cluster-robust (linearised) variance, in exact integers.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

import numpy as np
import numpy.typing as npt

# A profile key: whatever the caller identifies profiles by (id string, integer...).
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm of a comparison (sent, held out, or an A/B cell): per-profile counts.

    ``profiles`` counts profiles with at least one decision; ``decisions`` (``Σn``) is the
    number of decisions (sends, or held-out decisions) and ``conversions`` (``Σy``) how many
    of them converted (each decision converts at most once). The remaining fields are
    second moments over profiles used for the clustered variance. Build an arm with
    :meth:`from_arrays`, :meth:`from_pairs` or :meth:`from_mapping`; ``a + b`` pools two
    arms of *disjoint* profile sets (a profile split across both would be counted as two
    independent clusters).
    """

    profiles: int = 0
    decisions: int = 0
    conversions: int = 0
    sum_conversions_sq: int = 0
    sum_cross: int = 0
    sum_decisions_sq: int = 0

    @classmethod
    def from_arrays(cls, decisions: npt.ArrayLike, conversions: npt.ArrayLike) -> Arm:
        """An arm from equal-length integer arrays: decisions and conversions per profile."""
        n = np.asarray(decisions, dtype=np.int64).ravel()
        y = np.asarray(conversions, dtype=np.int64).ravel()
        if n.shape != y.shape:
            raise ValueError("decisions and conversions must have the same length")
        if np.any(n < 0) or np.any(y < 0):
            raise ValueError("decisions and conversions must not be negative")
        if np.any(y > n):
            raise ValueError("a profile cannot convert more often than it was decided for")
        # Python ints from here on: the sums stay exact however large the experiment.
        return cls(
            profiles=int(np.count_nonzero(n)),
            decisions=int(n.sum()),
            conversions=int(y.sum()),
            sum_conversions_sq=_dot(y, y),
            sum_cross=_dot(y, n),
            sum_decisions_sq=_dot(n, n),
        )

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> Arm:
        """An arm from ``(decisions, conversions)`` pairs, one per profile."""
        rows = list(pairs)
        if not rows:
            return cls()
        n, y = zip(*rows, strict=True)
        return cls.from_arrays(n, y)

    @classmethod
    def from_mapping(cls, counts: Mapping[K, tuple[int, int]]) -> Arm:
        """An arm from ``{profile: (decisions, conversions)}``."""
        return cls.from_pairs(counts.values())

    def __add__(self, other: Arm) -> Arm:
        return Arm(
            self.profiles + other.profiles,
            self.decisions + other.decisions,
            self.conversions + other.conversions,
            self.sum_conversions_sq + other.sum_conversions_sq,
            self.sum_cross + other.sum_cross,
            self.sum_decisions_sq + other.sum_decisions_sq,
        )

    @property
    def rate(self) -> float:
        """Conversion rate ``conversions / decisions`` (0.0 for an empty arm)."""
        return self.conversions / self.decisions if self.decisions else 0.0

    def residual_sum_sq(self) -> float:
        """``Σ(y_i - r n_i)²`` over profiles, with ``r`` the arm's rate (exact fraction)."""
        big_n, big_y = self.decisions, self.conversions
        if big_n == 0:
            raise ValueError("an arm without decisions has no rate")
        numerator = (
            big_n * big_n * self.sum_conversions_sq
            - 2 * big_n * big_y * self.sum_cross
            + big_y * big_y * self.sum_decisions_sq
        )
        return float(Fraction(numerator, big_n * big_n))

    def rate_variance(self) -> float:
        """Cluster-robust variance of :attr:`rate`: ``Σ(y_i - r n_i)² / (Σn)²``.

        The delta-method (linearisation) variance of a ratio estimator, without a
        small-sample factor, so that with one decision per profile it is exactly the
        binomial ``r(1 - r) / n``.
        """
        return self.residual_sum_sq() / self.decisions**2


@dataclass(frozen=True, slots=True)
class Overlap:
    """Profiles that have decisions in *both* arms (holdouts drawn per decision).

    Their treated and control residuals are correlated, so the variance of a difference
    needs the cross sums over shared profiles ``i``: ``Σ y_Ti y_Ci``, ``Σ y_Ti n_Ci``,
    ``Σ n_Ti y_Ci`` and ``Σ n_Ti n_Ci``. Empty (all zero) when every profile is in one arm.
    """

    profiles: int = 0
    conversions_conversions: int = 0
    conversions_decisions: int = 0
    decisions_conversions: int = 0
    decisions_decisions: int = 0

    @classmethod
    def between(
        cls,
        treated: Mapping[K, tuple[int, int]],
        control: Mapping[K, tuple[int, int]],
    ) -> Overlap:
        """Cross sums over the profiles present in both ``{profile: (decisions, conversions)}``."""
        shared = [k for k in treated if k in control and treated[k][0] and control[k][0]]
        if not shared:
            return cls()
        t = np.array([treated[k] for k in shared], dtype=np.int64)
        c = np.array([control[k] for k in shared], dtype=np.int64)
        return cls(
            profiles=len(shared),
            conversions_conversions=_dot(t[:, 1], c[:, 1]),
            conversions_decisions=_dot(t[:, 1], c[:, 0]),
            decisions_conversions=_dot(t[:, 0], c[:, 1]),
            decisions_decisions=_dot(t[:, 0], c[:, 0]),
        )

    def swapped(self) -> Overlap:
        """The same overlap seen with the arms' roles exchanged."""
        return Overlap(
            self.profiles,
            self.conversions_conversions,
            self.decisions_conversions,
            self.conversions_decisions,
            self.decisions_decisions,
        )

    def covariance(self, treated: Arm, control: Arm) -> float:
        """Cluster-robust ``Cov(rate_T, rate_C)``: ``Σ e_Ti e_Ci / (N_T N_C)``, shared profiles.

        ``e_i = y_i - rate * n_i`` is a profile's residual in an arm.
        """
        if self.profiles == 0:
            return 0.0
        nt, yt = treated.decisions, treated.conversions
        nc, yc = control.decisions, control.conversions
        numerator = (
            nt * nc * self.conversions_conversions
            - nt * yc * self.conversions_decisions
            - yt * nc * self.decisions_conversions
            + yt * yc * self.decisions_decisions
        )
        return float(Fraction(numerator, nt * nt * nc * nc))


def _dot(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> int:
    """Exact ``Σ a_i b_i``: numpy when int64 cannot overflow, Python ints otherwise."""
    if a.size == 0:
        return 0
    bound = int(np.abs(a).max()) * int(np.abs(b).max()) * a.size
    if bound < _INT64_SAFE:
        return int(np.dot(a, b))
    return sum(int(x) * int(z) for x, z in zip(a.tolist(), b.tolist(), strict=True))


_INT64_SAFE = 2**62
