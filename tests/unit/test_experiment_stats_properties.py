"""Properties of the experiment statistics and the sample-ratio-mismatch check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from clarion.experiments.stats import (
    Arm,
    Overlap,
    best_rho2,
    compare,
    compare_profiles,
    confidence_sequence,
    sequence_margin,
    srm,
)


@st.composite
def profile_counts(draw: st.DrawFn) -> tuple[int, int]:
    decisions = draw(st.integers(1, 6))
    return decisions, draw(st.integers(0, decisions))


ARMS = st.lists(profile_counts(), min_size=2, max_size=40).map(Arm.from_pairs)
ALPHAS = st.sampled_from([0.01, 0.05, 0.1, 0.2])


@settings(max_examples=200, deadline=None)
@given(ARMS, ARMS, ALPHAS)
def test_intervals_contain_their_estimates_and_the_sequence_contains_the_interval(
    treated: Arm, control: Arm, alpha: float
) -> None:
    lift = compare(treated, control, alpha=alpha)
    for estimate in (lift.absolute, lift.incremental, lift.relative):
        if estimate is not None:
            assert estimate.interval.contains(estimate.value)
    # The always-valid sequence is never narrower than the fixed-sample interval.
    assert lift.sequence.low <= lift.absolute.interval.low + 1e-12
    assert lift.sequence.high >= lift.absolute.interval.high - 1e-12
    assert 0.0 <= lift.p_value <= 1.0
    # The Wald test and interval agree (away from the boundary, where rounding decides).
    on_boundary = math.isclose(
        abs(lift.absolute.value), lift.absolute.interval.width / 2, rel_tol=1e-9
    )
    if not on_boundary:
        assert (lift.p_value < alpha) == (not lift.absolute.interval.contains(0.0))


@settings(max_examples=200, deadline=None)
@given(ARMS, ARMS)
def test_swapping_the_arms_negates_the_absolute_lift(treated: Arm, control: Arm) -> None:
    forward, backward = compare(treated, control), compare(control, treated)
    assert backward.absolute.value == pytest.approx(-forward.absolute.value, abs=1e-12)
    assert backward.absolute.std_error == pytest.approx(forward.absolute.std_error, rel=1e-9)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-300)
    assert backward.sequence.low == pytest.approx(-forward.sequence.high, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.integers(0, 30), profile_counts(), min_size=2, max_size=20),
    st.dictionaries(st.integers(0, 30), profile_counts(), min_size=2, max_size=20),
)
def test_overlap_swaps_with_the_arms(
    treated: dict[int, tuple[int, int]], control: dict[int, tuple[int, int]]
) -> None:
    forward, backward = compare_profiles(treated, control), compare_profiles(control, treated)
    assert Overlap.between(control, treated) == Overlap.between(treated, control).swapped()
    assert backward.absolute.value == pytest.approx(-forward.absolute.value, abs=1e-12)
    assert backward.absolute.std_error == pytest.approx(forward.absolute.std_error, rel=1e-9)
    assert forward.units == len(set(treated) | set(control))


def test_sequence_is_tightest_near_the_planned_size_and_widens_with_alpha() -> None:
    # Per-unit variance 1: the margin times sqrt(t) is smallest at t = planned.
    scaled = {
        t: sequence_margin(1.0 / t, t, planned_units=5000) * math.sqrt(t)
        for t in (500, 5000, 50_000)
    }
    assert scaled[5000] < scaled[500] and scaled[5000] < scaled[50_000]
    assert sequence_margin(1e-4, 5000, alpha=0.01) > sequence_margin(1e-4, 5000, alpha=0.05)
    assert confidence_sequence(0.1, 0.0, 10).width == 0.0
    assert confidence_sequence(0.1, 1e-4, 1).width == math.inf
    # rho^2 from Lambert's W (Waudby-Smith et al.); 8.21 / t* at alpha = 0.05.
    assert best_rho2(1000) == pytest.approx(0.008209, rel=1e-3)
    with pytest.raises(ValueError):
        best_rho2(0)
    with pytest.raises(ValueError):
        sequence_margin(-1.0, 10)


def test_srm_agrees_with_scipy_chisquare() -> None:
    observed = {"control": 4950, "a": 5120, "b": 9930}
    weights = {"control": 1, "a": 1, "b": 2}
    check = srm(observed, weights)
    reference = chisquare([4950, 5120, 9930], f_exp=[5000, 5000, 10000])
    assert check.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert check.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert check.expected == {"control": 5000, "a": 5000, "b": 10000}
    assert not check.mismatch


def test_srm_detects_a_52_48_split_and_not_the_planned_one() -> None:
    rng = np.random.default_rng(2026)
    planned = {"treated": 0.5, "control": 0.5}
    skewed = rng.multinomial(100_000, [0.52, 0.48])
    assert srm({"treated": int(skewed[0]), "control": int(skewed[1])}, planned).mismatch
    # At the true split the p < 0.001 check raises (almost) no false alarms.
    false_alarms = 0
    for _ in range(1000):
        fair = rng.multinomial(100_000, [0.5, 0.5])
        false_alarms += srm({"treated": int(fair[0]), "control": int(fair[1])}, planned).mismatch
    assert false_alarms <= 5
    # A 2% holdout split as planned is fine; 2.2% held out of 200,000 is not.
    holdout = {"treated": 0.98, "held_out": 0.02}
    assert not srm({"treated": 196_050, "held_out": 3_950}, holdout).mismatch
    assert srm({"treated": 195_600, "held_out": 4_400}, holdout).mismatch


def test_srm_input_checks() -> None:
    assert srm({}, {"a": 1, "b": 1}).p_value == 1.0
    assert srm({"a": 10}, {"a": 1, "b": 1}).observed == {"a": 10, "b": 0}
    with pytest.raises(ValueError, match="without a planned weight"):
        srm({"c": 1}, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="two arms"):
        srm({"a": 1}, {"a": 1})
    with pytest.raises(ValueError, match="positive"):
        srm({"a": 1}, {"a": 1, "b": 0})
    with pytest.raises(ValueError, match="negative"):
        srm({"a": -1}, {"a": 1, "b": 1})
