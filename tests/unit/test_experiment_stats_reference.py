"""The experiment statistics agree with independent reference computations.

Unclustered (one decision per profile): statsmodels' two-proportion Wald test and
interval. Clustered: statsmodels OLS of conversion on arm with a cluster-robust
covariance by profile (no small-sample correction), a numerical delta method for the
relative lift, and a cluster bootstrap as a sanity check.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
import statsmodels.api as sm
from statsmodels.stats import proportion

from clarion.experiments.stats import Arm, Overlap, compare, compare_cells, compare_profiles

Ints = npt.NDArray[np.int64]


def _binary_arm(conversions: int, decisions: int) -> Arm:
    ones = np.ones(decisions, dtype=np.int64)
    converted = (np.arange(decisions) < conversions).astype(np.int64)
    return Arm.from_arrays(ones, converted)


@pytest.mark.parametrize(
    ("ct", "nt", "cc", "nc"),
    [(611, 5000, 510, 5000), (37, 400, 12, 380), (2450, 98000, 41, 2000), (5, 60, 9, 55)],
)
def test_unclustered_matches_statsmodels_two_proportion_wald(
    ct: int, nt: int, cc: int, nc: int
) -> None:
    lift = compare(_binary_arm(ct, nt), _binary_arm(cc, nc))
    low, high = proportion.confint_proportions_2indep(ct, nt, cc, nc, method="wald", compare="diff")
    test = proportion.test_proportions_2indep(ct, nt, cc, nc, method="wald", compare="diff")
    assert lift.absolute.value == pytest.approx(ct / nt - cc / nc, rel=1e-12)
    assert lift.absolute.interval.low == pytest.approx(low, rel=1e-9)
    assert lift.absolute.interval.high == pytest.approx(high, rel=1e-9)
    assert lift.p_value == pytest.approx(test.pvalue, rel=1e-9)
    assert lift.absolute.std_error == pytest.approx(
        math.sqrt(ct / nt * (1 - ct / nt) / nt + cc / nc * (1 - cc / nc) / nc), rel=1e-12
    )
    assert lift.incremental.value == pytest.approx(nt * (ct / nt - cc / nc), rel=1e-12)


def _clustered_fixture(
    seed: int, profiles: int, overlap: bool
) -> tuple[Ints, Ints, Ints, npt.NDArray[np.float64]]:
    """Decision-level rows (profile, treated, converted) with profile-level heterogeneity."""
    rng = np.random.default_rng(seed)
    decisions = 1 + rng.poisson(2.0, profiles)
    propensity = rng.beta(0.6, 4.0, profiles)
    profile = np.repeat(np.arange(profiles), decisions)
    if overlap:  # holdout drawn per decision: a profile may be in both arms
        treated = (rng.random(profile.size) < 0.7).astype(np.int64)
    else:  # allocation per profile
        treated = np.repeat((rng.random(profiles) < 0.6).astype(np.int64), decisions)
    p = propensity[profile] + 0.03 * treated
    converted = (rng.random(profile.size) < p).astype(np.int64)
    return profile, treated, converted, p


def _arms_from_rows(
    profile: Ints, treated: Ints, converted: Ints
) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    arms: tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]] = ({}, {})
    for who, t, y in zip(profile.tolist(), treated.tolist(), converted.tolist(), strict=True):
        arm = arms[0] if t else arms[1]
        n0, y0 = arm.get(who, (0, 0))
        arm[who] = (n0 + 1, y0 + y)
    return arms


def _cluster_ols(
    profile: Ints, treated: Ints, converted: Ints
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Rates of (treated, control) and their cluster-robust covariance, from OLS."""
    design = np.column_stack([treated, 1 - treated]).astype(float)
    fit = sm.OLS(converted.astype(float), design).fit(
        cov_type="cluster", cov_kwds={"groups": profile, "use_correction": False}
    )
    return np.asarray(fit.params), np.asarray(fit.cov_params())


@pytest.mark.parametrize("overlap", [False, True])
def test_clustered_matches_cluster_robust_ols(overlap: bool) -> None:
    profile, treated, converted, _ = _clustered_fixture(7, 3000, overlap)
    t_map, c_map = _arms_from_rows(profile, treated, converted)
    assert (len(set(t_map) & set(c_map)) > 0) is overlap
    lift = compare_profiles(t_map, c_map)

    params, cov = _cluster_ols(profile, treated, converted)
    gradient = np.array([1.0, -1.0])
    assert lift.treated_rate == pytest.approx(params[0], rel=1e-12)
    assert lift.control_rate == pytest.approx(params[1], rel=1e-12)
    assert lift.absolute.std_error == pytest.approx(math.sqrt(gradient @ cov @ gradient), rel=1e-9)
    # The clustering matters on this fixture: the naive binomial error is clearly smaller.
    naive = math.sqrt(
        sum(
            r * (1 - r) / n
            for r, n in [(params[0], treated.sum()), (params[1], (1 - treated).sum())]
        )
    )
    if not overlap:
        assert lift.absolute.std_error > 1.1 * naive

    # Relative lift: delta method with a numerical gradient of r_T / r_C.
    def ratio(x: npt.NDArray[np.float64]) -> float:
        return float(x[0] / x[1])

    h = 1e-7
    grad = np.array([(ratio(params + h * e) - ratio(params - h * e)) / (2 * h) for e in np.eye(2)])
    assert lift.relative is not None
    assert lift.relative.value == pytest.approx(ratio(params) - 1.0, rel=1e-12)
    assert lift.relative.std_error == pytest.approx(math.sqrt(grad @ cov @ grad), rel=1e-6)


def test_clustered_standard_errors_agree_with_a_cluster_bootstrap() -> None:
    profile, treated, converted, _ = _clustered_fixture(11, 2000, overlap=False)
    t_map, c_map = _arms_from_rows(profile, treated, converted)
    lift = compare_profiles(t_map, c_map)
    rng = np.random.default_rng(3)
    t_rows = np.array(list(t_map.values()))
    c_rows = np.array(list(c_map.values()))
    diffs, ratios = [], []
    for _ in range(1000):
        t = t_rows[rng.integers(0, len(t_rows), len(t_rows))]
        c = c_rows[rng.integers(0, len(c_rows), len(c_rows))]
        rt, rc = t[:, 1].sum() / t[:, 0].sum(), c[:, 1].sum() / c[:, 0].sum()
        diffs.append(rt - rc)
        ratios.append(rt / rc - 1.0)
    assert lift.relative is not None
    assert np.std(diffs) == pytest.approx(lift.absolute.std_error, rel=0.1)
    assert np.std(ratios) == pytest.approx(lift.relative.std_error, rel=0.1)


def test_overlap_covariance_is_zero_without_shared_profiles() -> None:
    t = {"a": (2, 1), "b": (1, 0)}
    c = {"c": (3, 1), "d": (1, 1)}
    assert Overlap.between(t, c) == Overlap()
    assert compare_profiles(t, c) == compare(Arm.from_mapping(t), Arm.from_mapping(c))


def test_arm_sums_are_exact_and_additive() -> None:
    a = Arm.from_pairs([(3, 1), (1, 1), (2, 0)])
    b = Arm.from_pairs([(4, 2)])
    assert (a.profiles, a.decisions, a.conversions) == (3, 6, 2)
    assert (a.sum_conversions_sq, a.sum_cross, a.sum_decisions_sq) == (2, 4, 14)
    assert a + b == Arm.from_pairs([(3, 1), (1, 1), (2, 0), (4, 2)])
    assert Arm.from_pairs([]) == Arm()
    # Sums that would overflow int64 stay exact.
    big = Arm.from_arrays([2**40, 2**40], [2**39, 0])
    assert big.sum_decisions_sq == 2 * 2**80
    assert big.rate_variance() == pytest.approx((2**39 / 2) ** 2 * 2 / (2**41) ** 2)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="more often"):
        Arm.from_pairs([(1, 2)])
    with pytest.raises(ValueError, match="negative"):
        Arm.from_pairs([(-1, 0)])
    with pytest.raises(ValueError, match="same length"):
        Arm.from_arrays([1, 2], [0])
    with pytest.raises(ValueError, match="at least one decision"):
        compare(Arm.from_pairs([(1, 0)]), Arm())
    with pytest.raises(ValueError, match="alpha"):
        compare(Arm.from_pairs([(1, 0)]), Arm.from_pairs([(1, 1)]), alpha=1.5)
    with pytest.raises(ValueError, match="control cell"):
        compare_cells({"a": Arm.from_pairs([(1, 0)])}, "control")


def test_relative_lift_is_undefined_without_control_conversions() -> None:
    lift = compare(Arm.from_pairs([(1, 1), (1, 0)]), Arm.from_pairs([(1, 0), (2, 0)]))
    assert lift.relative is None
    assert lift.control_rate == 0.0


def test_cells_are_each_compared_with_the_control_cell() -> None:
    cells = {
        "control": _binary_arm(100, 1000),
        "short_copy": _binary_arm(130, 1000),
        "emoji": _binary_arm(90, 1000),
    }
    lifts = compare_cells(cells, "control")
    assert set(lifts) == {"short_copy", "emoji"}
    assert lifts["short_copy"].absolute.value == pytest.approx(0.03)
    assert lifts["emoji"] == compare(cells["emoji"], cells["control"])
