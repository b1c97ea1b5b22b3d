"""Always-valid (anytime-valid) confidence sequences for a difference in means.

An ordinary 95% interval is valid at *one* sample size fixed in advance; a report read
after every batch, and acted on as soon as it looks significant, makes far more than 5%
false discoveries. A confidence sequence ``(C_t)`` instead satisfies
``P(for all t: true value in C_t) >= 1 - alpha``, so it may be read at any moment.

We use the asymptotic confidence sequence (Gaussian-mixture boundary) of
I. Waudby-Smith, D. Arbour, R. Sinha, E. H. Kennedy and A. Ramdas, "Time-uniform central
limit theory and asymptotic confidence sequences", Annals of Statistics (2024),
arXiv:2103.06476. For an estimator that is asymptotically a mean of ``t`` independent
unit contributions with per-unit variance ``s^2`` (here ``s^2 = t * Var(estimate)``),

    C_t = estimate +/- s * sqrt(2 (t r + 1) / (t^2 r) * log(sqrt(t r + 1) / alpha))
        = estimate +/- sqrt(Var(estimate) * 2 (t r + 1) / (t r) * log(sqrt(t r + 1) / alpha))

where ``t`` is the number of independent units (profiles) seen so far and ``r = rho^2 > 0``
tunes where the sequence is tightest. ``r = (-W_{-1}(-alpha^2 exp(alpha^2 - 1)) - 1) / t*``
(``W_{-1}`` the lower branch of Lambert's W) minimises the width at the planned sample
size ``t*``; the sequence is valid for every ``t`` whatever ``t*`` was chosen, but ``t*`` must
be fixed before the data are seen.
"""

from __future__ import annotations

import math

from scipy.special import lambertw

from clarion.experiments.intervals import Interval, check_alpha

# Lambert's W_{-1} argument -alpha^2 e^(alpha^2 - 1) must be >= -1/e: alpha < sqrt(W_0(1)) ~ 0.753.
_MAX_ALPHA = 0.75


def best_rho2(planned_units: int, alpha: float = 0.05) -> float:
    """The mixture parameter ``rho^2`` that makes the sequence tightest at ``planned_units``."""
    if planned_units < 1:
        raise ValueError("planned_units must be at least 1")
    check_alpha(alpha)
    if alpha >= _MAX_ALPHA:
        raise ValueError(f"alpha must be below {_MAX_ALPHA} for a confidence sequence")
    w = lambertw(-(alpha**2) * math.exp(alpha**2 - 1.0), k=-1).real
    return float(-w - 1.0) / planned_units


def sequence_margin(
    variance: float, units: int, *, alpha: float = 0.05, planned_units: int = 10_000
) -> float:
    """Half-width of the always-valid sequence for an estimate of variance ``variance``.

    ``units`` is the number of independent units (profiles) behind the estimate so far.
    With fewer than two units the margin is infinite: nothing is known yet.
    """
    if variance < 0:
        raise ValueError("variance must not be negative")
    rho2 = best_rho2(planned_units, alpha)
    if units < 2:
        return math.inf
    trho = units * rho2
    factor = 2.0 * (trho + 1.0) / trho * math.log(math.sqrt(trho + 1.0) / alpha)
    return math.sqrt(variance * factor)


def confidence_sequence(
    estimate: float,
    variance: float,
    units: int,
    *,
    alpha: float = 0.05,
    planned_units: int = 10_000,
) -> Interval:
    """The always-valid ``(1 - alpha)`` interval around ``estimate`` after ``units`` units.

    ``variance`` is the estimated variance of ``estimate`` itself (its squared standard
    error), ``units`` the number of independent units it rests on, ``planned_units`` the
    sample size the sequence is tuned for (fixed before looking at the data).
    """
    margin = sequence_margin(variance, units, alpha=alpha, planned_units=planned_units)
    return Interval(estimate - margin, estimate + margin)
