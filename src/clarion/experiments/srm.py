"""Sample-ratio mismatch: did allocation split units in the proportions it was meant to?

A mismatch (e.g. 50.8% / 49.2% on a planned 50/50 split over a million profiles) means
units were lost or misallocated somewhere, and any lift computed from the arms is suspect.
The check is Pearson's chi-square goodness-of-fit test of the observed counts against the
planned weights; by convention (Kohavi et al., "Trustworthy Online Controlled
Experiments") a mismatch is flagged only when ``p < 0.001``, because the check runs on
every report, continuously.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scipy.stats import chi2

SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class Srm:
    """Result of a sample-ratio-mismatch check.

    ``observed`` and ``expected`` are counts per arm (``expected`` = total * planned
    share); ``statistic`` is Pearson's chi-square with ``len(observed) - 1`` degrees of
    freedom, ``p_value`` its upper tail, ``mismatch`` whether ``p_value < threshold``.
    """

    observed: Mapping[str, int]
    expected: Mapping[str, float]
    statistic: float
    p_value: float
    threshold: float
    mismatch: bool


def srm(
    observed: Mapping[str, int],
    weights: Mapping[str, float],
    *,
    threshold: float = SRM_THRESHOLD,
) -> Srm:
    """Check ``observed`` counts per arm against planned ``weights`` (any positive scale).

    Every weighted arm is tested; an arm missing from ``observed`` counts as zero. An arm
    observed but without a weight is an error, as is a negative count or weight.
    """
    unknown = set(observed) - set(weights)
    if unknown:
        raise ValueError(f"observed arms without a planned weight: {sorted(unknown)}")
    if len(weights) < 2:
        raise ValueError("a sample-ratio check needs at least two arms")
    if any(w <= 0 for w in weights.values()):
        raise ValueError("weights must be positive")
    counts = {arm: int(observed.get(arm, 0)) for arm in weights}
    if any(c < 0 for c in counts.values()):
        raise ValueError("observed counts must not be negative")
    total = sum(counts.values())
    scale = sum(weights.values())
    expected = {arm: total * w / scale for arm, w in weights.items()}
    if total == 0:
        return Srm(counts, expected, 0.0, 1.0, threshold, False)
    statistic = sum((counts[a] - expected[a]) ** 2 / expected[a] for a in weights)
    p_value = float(chi2.sf(statistic, df=len(weights) - 1))
    return Srm(counts, expected, statistic, p_value, threshold, p_value < threshold)
