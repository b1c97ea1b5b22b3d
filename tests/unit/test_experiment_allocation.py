"""Allocation to A/B cells and holdouts: uniform, independent across salts, stable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from scipy.stats import chi2_contingency, chisquare

from clarion.core.experiment import Cell, Experiment, is_held_out, unit_hash

PROFILES = [f"profile-{i}" for i in range(100_000)]
#: A sample-ratio-mismatch threshold: these fixed ids pass it; a biased hash would not.
P_MIN = 0.001


def test_allocation_is_uniform_over_the_declared_weights() -> None:
    test = Experiment(7, "", (Cell("control", 1), Cell("b", 1), Cell("c", 2)))
    counts = Counter(test.allocate(p) for p in PROFILES)
    expected = [len(PROFILES) * s for s in test.shares]
    observed = [counts[i] for i in range(3)]
    assert test.shares == pytest.approx((0.25, 0.25, 0.5))
    assert chisquare(observed, expected).pvalue > P_MIN


def test_the_unit_hash_is_uniform_on_the_unit_interval() -> None:
    bins = Counter(int(unit_hash("s", p) * 20) for p in PROFILES)
    assert set(bins) == set(range(20))
    assert chisquare([bins[i] for i in range(20)]).pvalue > P_MIN


def test_tests_with_different_salts_allocate_independently() -> None:
    first = Experiment(1, "", (Cell("a", 1), Cell("b", 1)))
    second = Experiment(1, "other-salt", (Cell("a", 1), Cell("b", 1), Cell("c", 1)))
    table = Counter((first.allocate(p), second.allocate(p)) for p in PROFILES)
    matrix = [[table[i, j] for j in range(3)] for i in range(2)]
    assert chi2_contingency(matrix).pvalue > P_MIN
    # Same salt and id: the same split, so the contingency test would fail.
    again = Experiment(1, "", (Cell("a", 1), Cell("b", 1)))
    assert all(first.allocate(p) == again.allocate(p) for p in PROFILES[:1000])


def test_different_test_ids_with_the_same_salt_are_independent() -> None:
    a = Experiment(1, "s", (Cell("a", 1), Cell("b", 1)))
    b = Experiment(2, "s", (Cell("a", 1), Cell("b", 1)))
    table = Counter((a.allocate(p), b.allocate(p)) for p in PROFILES)
    assert chi2_contingency([[table[i, j] for j in range(2)] for i in range(2)]).pvalue > P_MIN


def test_holdout_is_independent_of_cells_and_close_to_its_share() -> None:
    test = Experiment(1, "", (Cell("a", 1), Cell("b", 1)))
    held = [is_held_out("promo", p, 0.02) for p in PROFILES]
    share = sum(held) / len(held)
    assert abs(share - 0.02) < 3 * (0.02 * 0.98 / len(held)) ** 0.5
    table = Counter((h, test.allocate(p)) for h, p in zip(held, PROFILES, strict=True))
    matrix = [[table[h, c] for c in range(2)] for h in (False, True)]
    assert chi2_contingency(matrix).pvalue > P_MIN
    # Two messages' holdouts are independent too: a profile is not held out of everything.
    other = [is_held_out("other", p, 0.02) for p in PROFILES]
    both = sum(a and b for a, b in zip(held, other, strict=True))
    assert both < 3 * len(PROFILES) * 0.02 * 0.02 + 10


def test_zero_share_holds_out_nobody() -> None:
    assert not any(is_held_out("promo", p, 0.0) for p in PROFILES[:1000])


def test_the_same_profile_gets_the_same_cell_in_another_process() -> None:
    # Another interpreter with another string-hash seed: allocation must not depend on
    # Python's hash() or on anything but the salt, the test and the profile.
    test = Experiment(31, "", (Cell("a", 1), Cell("b", 1), Cell("c", 1)))
    here = [test.allocate(p) for p in PROFILES[:200]]
    held_here = [is_held_out("m", p, 0.3) for p in PROFILES[:200]]
    code = (
        "import json\n"
        "from clarion.core.experiment import Cell, Experiment, is_held_out\n"
        "t = Experiment(31, '', (Cell('a', 1), Cell('b', 1), Cell('c', 1)))\n"
        "ids = [f'profile-{i}' for i in range(200)]\n"
        "print(json.dumps([[t.allocate(p) for p in ids], [is_held_out('m', p, 0.3) for p in ids]]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(out.stdout) == [here, held_here]
    assert len(set(here)) == 3


def test_an_experiment_needs_positive_weights() -> None:
    with pytest.raises(ValueError, match="positive"):
        Experiment(1, "", ())
    single = Experiment(1, "", (Cell("only", 3),))
    assert {single.allocate(p) for p in PROFILES[:100]} == {0}
