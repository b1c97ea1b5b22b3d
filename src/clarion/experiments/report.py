"""Incrementality reports: per message, treated against held out (overall, per channel,
per week of decision) and each A/B cell against the control cell.

The store aggregates exposures per profile (``Store.profile_counts``); this
module turns those counts into arms and comparisons with ``clarion.experiments.stats``
and gives a JSON-ready report (the API's and ``clarion report --json``'s body).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from clarion.core.spec import CatalogSpec, MessageSpec
from clarion.experiments.stats import (
    Arm,
    Estimate,
    Lift,
    Srm,
    compare,
    compare_profiles,
    srm,
)
from clarion.store.base import ReportCounts
from clarion.store.records import Grouped, ProfileCounts, ReportFilter
from clarion.store.schema import HELD_OUT, TREATED

Json = dict[str, object]


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """What to report on, and at which significance level (0.05: 95% intervals)."""

    filter: ReportFilter = field(default_factory=ReportFilter)
    alpha: float = 0.05


def incrementality(source: ReportCounts, catalog: CatalogSpec, request: ReportRequest) -> Json:
    """The report for every message with exposures that ``request`` covers."""
    flt = request.filter
    grouped = {by: source.profile_counts(flt, by) for by in ("total", "channel", "week", "cell")}
    names = sorted({message for message, _, _ in grouped["total"]})
    planned = source.planned_holdouts(flt)
    return {
        "since": _iso(flt.since),
        "until": _iso(flt.until),
        "alpha": request.alpha,
        "messages": [
            _message(
                name, catalog.messages.get(name), grouped, planned.get(name, {}), request.alpha
            )
            for name in names
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _groups(counts: Grouped, message: str) -> list[str | int]:
    return sorted({g for m, g, _ in counts if m == message and g is not None}, key=str)


def planned_share(shares: Mapping[float | None, int], declared: float | None) -> float | None:
    """The held-out share the decisions were made under: the shares recorded with them,
    weighted by profiles (a run's, not the catalog's today); ``declared`` (the catalog's)
    stands in for decisions that did not record one."""
    known: dict[float, int] = {}
    for recorded, n in shares.items():
        share = declared if recorded is None else recorded
        if share is not None:
            known[share] = known.get(share, 0) + n
    total = sum(known.values())
    if not total:
        return declared
    if len(known) == 1:
        return next(iter(known))  # exactly, not through a float average
    return sum(s * n for s, n in known.items()) / total


def _message(
    name: str,
    spec: MessageSpec | None,
    grouped: Mapping[str, Grouped],
    shares: Mapping[float | None, int],
    alpha: float,
) -> Json:
    holdout = planned_share(shares, spec.holdout if spec is not None else None)
    weights = {TREATED: 1.0 - holdout, HELD_OUT: holdout} if holdout and holdout < 1 else None

    def versus(by: str, group: str | int | None) -> Json:
        counts = grouped[by]
        treated = counts.get((name, group, TREATED), {})
        held = counts.get((name, group, HELD_OUT), {})
        return _comparison(treated, held, weights, alpha)

    goal = spec.goal if spec is not None else None
    return {
        "message": name,
        "goal": {"event": goal.event, "within_s": goal.within.total_seconds()} if goal else None,
        "holdout": holdout,
        "overall": versus("total", None),
        "channels": [
            {"channel": ch, **versus("channel", ch)} for ch in _groups(grouped["channel"], name)
        ],
        "weeks": [{"week": w, **versus("week", w)} for w in _groups(grouped["week"], name)],
        "experiment": _experiment(
            name, spec, grouped["cell"], grouped["total"].get((name, None, HELD_OUT), {}), alpha
        ),
    }


def _comparison(
    treated: ProfileCounts,
    held_out: ProfileCounts,
    weights: Mapping[str, float] | None,
    alpha: float,
) -> Json:
    t, c = _arm_of(treated), _arm_of(held_out)
    lift = None
    if t.decisions and c.decisions:
        lift = compare_profiles(treated, held_out, alpha=alpha)
    check = srm({TREATED: t.profiles, HELD_OUT: c.profiles}, weights) if weights else None
    return {"treated": _arm(t), "held_out": _arm(c), "lift": _lift(lift), "srm": _srm(check)}


def _experiment(
    name: str, spec: MessageSpec | None, counts: Grouped, held_out: ProfileCounts, alpha: float
) -> Json | None:
    """Each cell against the control cell; with a holdout, also against the held-out
    profiles (of every cell: allocation ignores the holdout, so they are each cell's
    counterfactual)."""
    cells = sorted({g for m, g, _ in counts if m == name and isinstance(g, int)})
    test = spec.experiment if spec is not None else None
    if not cells and test is None:
        return None
    declared = test.cells if test is not None else ()
    names = {i: (declared[i].name if i < len(declared) else f"cell{i}") for i in cells}
    shares = dict(enumerate(test.shares)) if test is not None else {}
    arms = {i: _arm_of(counts.get((name, i, TREATED), {})) for i in cells}
    # Allocation ignores the holdout, so a cell's profiles are its treated and held-out ones.
    profiles = {
        i: len(counts.get((name, i, TREATED), {}).keys() | counts.get((name, i, HELD_OUT), {}))
        for i in cells
    }
    check = None
    if test is not None and set(cells) <= set(shares):
        weights = {cell.name: shares[i] for i, cell in enumerate(declared)}
        check = srm({names[i]: profiles[i] for i in cells}, weights)
    control = arms.get(0)
    return {
        "id": test.id if test is not None else None,
        "cells": [
            {
                "cell": i,
                "name": names[i],
                "share": shares.get(i),
                **_arm(arms[i]),
                "versus_held_out": _versus_held_out(
                    counts.get((name, i, TREATED), {}), held_out, alpha
                ),
            }
            for i in cells
        ],
        "srm": _srm(check),
        "comparisons": [
            {
                "cell": i,
                "name": names[i],
                "lift": _lift(compare(arms[i], control, alpha=alpha)),
            }
            for i in cells
            if i != 0 and control is not None and control.decisions and arms[i].decisions
        ],
    }


def _versus_held_out(treated: ProfileCounts, held_out: ProfileCounts, alpha: float) -> Json | None:
    if not treated or not held_out:
        return None
    return _lift(compare_profiles(treated, held_out, alpha=alpha))


def _arm_of(counts: ProfileCounts) -> Arm:
    return Arm.from_mapping(counts)


def _arm(arm: Arm) -> Json:
    return {
        "profiles": arm.profiles,
        "decisions": arm.decisions,
        "conversions": arm.conversions,
        "rate": arm.rate if arm.decisions else None,
    }


def _lift(lift: Lift | None) -> Json | None:
    if lift is None:
        return None
    return {
        "absolute": _estimate(lift.absolute),
        "relative": _estimate(lift.relative) if lift.relative is not None else None,
        "incremental_conversions": _estimate(lift.incremental),
        "p_value": lift.p_value,
        # Unbounded (None) while an arm has fewer than two profiles.
        "always_valid": {"low": _finite(lift.sequence.low), "high": _finite(lift.sequence.high)},
        "significant": lift.significant,
    }


def _estimate(estimate: Estimate) -> Json:
    interval = estimate.interval
    return {
        "value": _finite(estimate.value),
        "low": _finite(interval.low),
        "high": _finite(interval.high),
    }


def _finite(value: float) -> float | None:
    """JSON has no infinity: an unbounded end (or an undefined value) is ``None``."""
    return value if math.isfinite(value) else None


def _srm(check: Srm | None) -> Json | None:
    if check is None:
        return None
    return {
        "observed": dict(check.observed),
        "expected": dict(check.expected),
        "p_value": check.p_value,
        "mismatch": check.mismatch,
    }
