"""Interval and point-estimate values shared by the experiment statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval ``[low, high]`` on the scale of the quantity it bounds."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"interval low {self.low} is above high {self.high}")

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within the interval (ends included)."""
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        """``high - low``."""
        return self.high - self.low

    def scaled(self, factor: float) -> Interval:
        """The interval multiplied by a non-negative ``factor``."""
        if factor < 0:
            raise ValueError("factor must not be negative")
        return Interval(self.low * factor, self.high * factor)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its standard error and a two-sided Wald interval.

    ``interval`` is ``value ± z(1 - alpha/2) * std_error`` for the ``alpha`` the
    estimate was made with (0.05 gives the usual 95% interval).
    """

    value: float
    std_error: float
    interval: Interval

    @classmethod
    def wald(cls, value: float, variance: float, alpha: float) -> Estimate:
        """The estimate with a normal-approximation interval at level ``1 - alpha``."""
        se = math.sqrt(max(variance, 0.0))
        half = z_quantile(alpha) * se
        return cls(value, se, Interval(value - half, value + half))

    def scaled(self, factor: float) -> Estimate:
        """The estimate of ``factor * quantity`` (``factor`` known, non-negative)."""
        return Estimate(self.value * factor, self.std_error * factor, self.interval.scaled(factor))


def z_quantile(alpha: float) -> float:
    """The two-sided standard-normal critical value ``z(1 - alpha/2)``."""
    check_alpha(alpha)
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def two_sided_p(z: float) -> float:
    """``P(|Z| >= |z|)`` for a standard normal ``Z``; ``erfc`` keeps tiny p-values exact."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def check_alpha(alpha: float) -> None:
    """Reject a significance level outside ``(0, 1)``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
