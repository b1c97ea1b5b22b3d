"""Lift of a treated arm over a control arm: rates, lifts, intervals, p-value, sequence.

Pure (numpy/scipy, no I/O). Everything a report needs comes from :func:`compare`; A/B
cells against a control cell from :func:`compare_cells`; weekly cohorts are one
:func:`compare` per cohort. See docs/experiments.md, "Statistics", for the methods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from clarion.experiments.arms import Arm, K, Overlap
from clarion.experiments.intervals import Estimate, Interval, check_alpha, two_sided_p
from clarion.experiments.sequences import best_rho2, confidence_sequence, sequence_margin
from clarion.experiments.srm import SRM_THRESHOLD, Srm, srm

__all__ = [
    "SRM_THRESHOLD",
    "Arm",
    "Estimate",
    "Interval",
    "Lift",
    "Overlap",
    "Srm",
    "best_rho2",
    "compare",
    "compare_cells",
    "compare_profiles",
    "confidence_sequence",
    "sequence_margin",
    "srm",
]

PLANNED_PROFILES = 10_000


@dataclass(frozen=True, slots=True)
class Lift:
    """Treated versus control: what a message (or a cell) changed.

    * ``absolute``: ``rate_T - rate_C``, conversions per decision (a difference of rates).
    * ``relative``: ``rate_T / rate_C - 1`` (0.10 means +10%); ``None`` when the control
      rate is zero.
    * ``incremental``: conversions caused among the treated, ``decisions_T * absolute``.
    * ``p_value``: two-sided Wald test of ``absolute == 0``.
    * ``sequence``: always-valid ``(1 - alpha)`` interval for ``absolute``; unlike
      ``absolute.interval`` it may be read after every batch.
    * ``units``: independent profiles behind the comparison (the sequence's time).

    Intervals are at level ``1 - alpha``; variances are clustered by profile.
    """

    treated: Arm
    control: Arm
    alpha: float
    absolute: Estimate
    relative: Estimate | None
    incremental: Estimate
    p_value: float
    sequence: Interval
    units: int
    planned_profiles: int

    @property
    def treated_rate(self) -> float:
        """Conversion rate of the treated arm."""
        return self.treated.rate

    @property
    def control_rate(self) -> float:
        """Conversion rate of the control arm."""
        return self.control.rate

    @property
    def significant(self) -> bool:
        """Whether the always-valid sequence excludes zero (safe under continuous reading)."""
        return not self.sequence.contains(0.0)


def compare(
    treated: Arm,
    control: Arm,
    *,
    alpha: float = 0.05,
    overlap: Overlap | None = None,
    planned_profiles: int = PLANNED_PROFILES,
) -> Lift:
    """Compare two arms; both must have at least one decision.

    ``overlap`` describes profiles with decisions in both arms (see :class:`Overlap`);
    omit it when every profile belongs to one arm. ``planned_profiles`` tunes where the
    always-valid sequence is tightest and must not be chosen after seeing the data.
    """
    check_alpha(alpha)
    if treated.decisions == 0 or control.decisions == 0:
        raise ValueError("both arms need at least one decision to be compared")
    shared = overlap or Overlap()
    r_t, r_c = treated.rate, control.rate
    var_t, var_c = treated.rate_variance(), control.rate_variance()
    cov = shared.covariance(treated, control)
    diff = r_t - r_c
    var_diff = max(var_t + var_c - 2.0 * cov, 0.0)
    absolute = Estimate.wald(diff, var_diff, alpha)
    units = treated.profiles + control.profiles - shared.profiles
    return Lift(
        treated=treated,
        control=control,
        alpha=alpha,
        absolute=absolute,
        relative=_relative(r_t, r_c, var_t, var_c, cov, alpha),
        incremental=absolute.scaled(treated.decisions),
        p_value=_p_value(diff, var_diff),
        sequence=_sequence(treated, control, diff, cov, units, alpha, planned_profiles),
        units=units,
        planned_profiles=planned_profiles,
    )


def compare_profiles(
    treated: Mapping[K, tuple[int, int]],
    control: Mapping[K, tuple[int, int]],
    *,
    alpha: float = 0.05,
    planned_profiles: int = PLANNED_PROFILES,
) -> Lift:
    """:func:`compare` from ``{profile: (decisions, conversions)}`` per arm.

    Profiles may appear in both arms (e.g. holdouts drawn per decision); the covariance
    they induce is accounted for.
    """
    return compare(
        Arm.from_mapping(treated),
        Arm.from_mapping(control),
        alpha=alpha,
        overlap=Overlap.between(treated, control),
        planned_profiles=planned_profiles,
    )


def compare_cells(
    cells: Mapping[str, Arm],
    control: str,
    *,
    alpha: float = 0.05,
    planned_profiles: int = PLANNED_PROFILES,
) -> dict[str, Lift]:
    """Each A/B cell against the ``control`` cell, keyed by cell name (control excluded).

    Cells of one test hold disjoint profiles (allocation is per profile). ``alpha`` is per
    comparison: with many cells, divide it by their number (Bonferroni) if a family-wise
    guarantee is wanted.
    """
    if control not in cells:
        raise ValueError(f"control cell {control!r} is not among the cells {sorted(cells)}")
    base = cells[control]
    return {
        name: compare(arm, base, alpha=alpha, planned_profiles=planned_profiles)
        for name, arm in cells.items()
        if name != control
    }


def _relative(
    r_t: float, r_c: float, var_t: float, var_c: float, cov: float, alpha: float
) -> Estimate | None:
    """``r_T / r_C - 1`` with the delta-method variance of the ratio ``r_T / r_C``."""
    if r_c == 0.0:
        return None
    ratio = r_t / r_c
    # Gradient of r_T / r_C is (1 / r_C, -r_T / r_C²).
    var = var_t / r_c**2 + ratio**2 * var_c / r_c**2 - 2.0 * ratio * cov / r_c**2
    return Estimate.wald(ratio - 1.0, max(var, 0.0), alpha)


def _sequence(
    treated: Arm, control: Arm, diff: float, cov: float, units: int, alpha: float, planned: int
) -> Interval:
    """The always-valid interval, with each arm's variance floored at the pooled one.

    The sequence is read from the first batch on, when the small arm (a 2% holdout) may
    hold a handful of profiles and no conversion: its own residual variance is then 0
    and the sequence would collapse onto a noisy estimate. Flooring each arm's
    per-profile residual variance at the pooled value (both arms together) borrows the
    large arm's information; it never narrows the sequence and changes nothing once
    both arms are large and alike.
    """
    if min(treated.profiles, control.profiles) < 2:
        return Interval(-math.inf, math.inf)
    rss_t, rss_c = treated.residual_sum_sq(), control.residual_sum_sq()
    pooled = (rss_t + rss_c) / (treated.profiles + control.profiles)
    var_t = max(rss_t, pooled * treated.profiles) / treated.decisions**2
    var_c = max(rss_c, pooled * control.profiles) / control.decisions**2
    variance = max(var_t + var_c - 2.0 * cov, 0.0)
    return confidence_sequence(diff, variance, units, alpha=alpha, planned_units=planned)


def _p_value(diff: float, var_diff: float) -> float:
    if var_diff == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    return two_sided_p(diff / math.sqrt(var_diff))
