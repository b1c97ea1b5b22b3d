"""The report built from per-profile counts, and its text rendering."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from clarion.core.experiment import Cell, Experiment
from clarion.core.spec import CatalogSpec, Goal
from clarion.experiments import report
from clarion.experiments.report import ReportRequest
from clarion.experiments.table import render_table, render_truth, verdict
from clarion.store.base import ReportCounts
from clarion.store.records import Breakdown, Grouped, ReportFilter

from .core_fixtures import catalog, message

# The report is JSON: the tests read it at any depth, as a client would.
incrementality: Callable[[ReportCounts, CatalogSpec, ReportRequest], Any] = report.incrementality


class Counts:
    """Per-profile counts a test hands the report, by breakdown."""

    def __init__(
        self, data: dict[str, Grouped], planned: dict[str, dict[float | None, int]] | None = None
    ) -> None:
        self.data = data
        self.planned = planned or {}
        self.asked: list[tuple[ReportFilter, Breakdown]] = []

    def planned_holdouts(self, flt: ReportFilter) -> dict[str, dict[float | None, int]]:
        return self.planned

    def profile_counts(self, flt: ReportFilter, by: Breakdown) -> Grouped:
        self.asked.append((flt, by))
        return self.data.get(by, {})


GOAL = Goal("thing.done", timedelta(days=1))
TREATED = {f"t{i}": (2, i % 2) for i in range(40)}
HELD = {f"h{i}": (1, int(i % 4 == 0)) for i in range(10)}


def test_a_message_report_compares_treated_with_held_out() -> None:
    spec = catalog(message(goal=GOAL, holdout=0.2))
    source = Counts(
        {
            "total": {("promo", None, "treated"): TREATED, ("promo", None, "held_out"): HELD},
            "channel": {("promo", "push", "treated"): TREATED},
            "week": {("promo", "2026-03-02", "held_out"): HELD},
        }
    )
    flt = ReportFilter(message="promo")
    report = incrementality(source, spec, ReportRequest(flt, alpha=0.1))
    assert {by for _, by in source.asked} == {"total", "channel", "week", "cell"}
    assert all(f == flt for f, _ in source.asked)
    [entry] = report["messages"]
    overall = entry["overall"]
    assert overall["treated"] == {"profiles": 40, "decisions": 80, "conversions": 20, "rate": 0.25}
    assert overall["held_out"]["rate"] == pytest.approx(3 / 10)
    assert overall["lift"]["absolute"]["value"] == pytest.approx(0.25 - 0.3)
    assert overall["srm"]["expected"] == {"treated": 40.0, "held_out": 10.0}
    assert report["alpha"] == 0.1
    [channel] = entry["channels"]
    assert channel["channel"] == "push" and channel["lift"] is None  # no held-out on push
    [week] = entry["weeks"]
    assert week["treated"]["rate"] is None and week["lift"] is None
    json.dumps(report, allow_nan=False)  # JSON-ready: no infinities, no NaN
    table = render_table(report)
    assert "promo" in table and "channel push" in table and "week of 2026-03-02" in table


def test_tiny_arms_have_an_unbounded_always_valid_interval() -> None:
    spec = catalog(message(goal=GOAL, holdout=0.1))
    source = Counts(
        {"total": {("promo", None, "treated"): TREATED, ("promo", None, "held_out"): {"h": (1, 0)}}}
    )
    lift = incrementality(source, spec, ReportRequest())["messages"][0]["overall"]["lift"]
    assert lift["always_valid"] == {"low": None, "high": None} and not lift["significant"]
    json.dumps(lift, allow_nan=False)


def test_cells_are_compared_with_the_control_and_checked_against_their_shares() -> None:
    base = message(goal=GOAL)
    test = Experiment(4, "", (Cell("control", 3), Cell("bold", 1)))
    spec = catalog(replace(base, experiment=test, variants=(base, base)))
    control = {f"c{i}": (1, int(i % 5 == 0)) for i in range(300)}
    bold = {f"b{i}": (1, int(i % 3 == 0)) for i in range(100)}
    source = Counts(
        {
            "total": {("promo", None, "treated"): control | bold},
            "cell": {("promo", 0, "treated"): control, ("promo", 1, "treated"): bold},
        }
    )
    entry = incrementality(source, spec, ReportRequest())["messages"][0]
    assert entry["overall"]["lift"] is None and entry["overall"]["srm"] is None
    assert [c["versus_held_out"] for c in entry["experiment"]["cells"]] == [None, None]
    experiment = entry["experiment"]
    assert [(c["name"], c["share"]) for c in experiment["cells"]] == [
        ("control", 0.75),
        ("bold", 0.25),
    ]
    assert not experiment["srm"]["mismatch"]
    [versus] = experiment["comparisons"]
    assert versus["lift"]["absolute"]["value"] == pytest.approx(34 / 100 - 60 / 300)
    assert "A/B test 4" in render_table({"messages": [entry]})
    truth = {"promo": {"absolute_lift": 0.0, "cells": {"control": 0.0, "bold": 0.5}}}
    text = render_truth(truth, {"messages": [entry]})
    assert "not estimated (no held-out decisions" in text
    assert "cell bold vs control: true absolute lift +50.00%" in text and "NOT covered" in text


def test_an_empty_report_says_why() -> None:
    report = incrementality(Counts({}), catalog(message()), ReportRequest())
    assert report["messages"] == []
    assert "no measured decisions" in render_table(report)


def test_with_a_holdout_each_cell_is_also_compared_with_the_held_out_profiles() -> None:
    base = message(goal=GOAL, holdout=0.2)
    test = Experiment(4, "", (Cell("control", 1), Cell("bold", 1)))
    spec = catalog(replace(base, experiment=test, variants=(base, base)))
    control = {f"c{i}": (1, int(i % 5 == 0)) for i in range(100)}
    bold = {f"b{i}": (1, int(i % 2 == 0)) for i in range(100)}
    held = {f"h{i}": (1, int(i % 10 == 0)) for i in range(50)}
    source = Counts(
        {
            "total": {
                ("promo", None, "treated"): control | bold,
                ("promo", None, "held_out"): held,
            },
            "cell": {
                ("promo", 0, "treated"): control,
                ("promo", 1, "treated"): bold,
                ("promo", 0, "held_out"): dict(list(held.items())[:25]),
                ("promo", 1, "held_out"): dict(list(held.items())[25:]),
            },
        }
    )
    cells = incrementality(source, spec, ReportRequest())["messages"][0]["experiment"]["cells"]
    lifts = [c["versus_held_out"]["absolute"]["value"] for c in cells]
    assert lifts == [pytest.approx(0.2 - 0.1), pytest.approx(0.5 - 0.1)]
    assert [c["profiles"] for c in cells] == [100, 100]  # sent decisions only


def test_the_sample_ratio_check_uses_the_share_the_decisions_were_made_under() -> None:
    # The catalog says 5% today; the decisions recorded 20% (a run, or an older catalog).
    spec = catalog(message(goal=GOAL, holdout=0.05))
    source = Counts(
        {"total": {("promo", None, "treated"): TREATED, ("promo", None, "held_out"): HELD}},
        {"promo": {0.2: 50}},
    )
    entry = incrementality(source, spec, ReportRequest())["messages"][0]
    assert entry["holdout"] == pytest.approx(0.2)
    assert entry["overall"]["srm"]["expected"] == {"treated": 40.0, "held_out": 10.0}
    assert not entry["overall"]["srm"]["mismatch"]
    # Rows that did not record a share count as the catalog's.
    mixed = Counts(source.data, {"promo": {None: 50, 0.2: 50}})
    entry = incrementality(mixed, spec, ReportRequest())["messages"][0]
    assert entry["holdout"] == pytest.approx(0.125)
    # Unrecorded rows and rows that recorded the catalog's share count together.
    same = Counts(source.data, {"promo": {None: 30, 0.05: 30, 0.2: 60}})
    entry = incrementality(same, spec, ReportRequest())["messages"][0]
    assert entry["holdout"] == pytest.approx((0.05 * 60 + 0.2 * 60) / 120)


def test_each_table_row_carries_a_verdict() -> None:
    strong = {f"t{i}": (1, 1) for i in range(200)}
    weak = {f"h{i}": (1, int(i % 10 == 0)) for i in range(200)}
    spec = catalog(message(goal=GOAL, holdout=0.5))

    def verdict_of(treated: dict[str, tuple[int, int]], held: dict[str, tuple[int, int]]) -> str:
        source = Counts(
            {"total": {("promo", None, "treated"): treated, ("promo", None, "held_out"): held}}
        )
        header, row = render_table(incrementality(source, spec, ReportRequest())).splitlines()
        assert header.split()[-1] == "verdict"
        return row.split("  ")[-1].strip()

    assert verdict_of(strong, weak) == "lift"
    assert verdict_of(weak, strong) == "harm"
    halves = list(weak.items())
    assert verdict_of(dict(halves[:100]), dict(halves[100:])) == "not significant"
    assert verdict_of(strong, dict(list(weak.items())[:10])) == "suspect (SRM)"


def test_a_fixed_horizon_interval_alone_is_not_yet_a_result() -> None:
    fixed_only = {"significant": False, "absolute": {"value": 0.03, "low": 0.01, "high": 0.05}}
    assert verdict(fixed_only, mismatch=False) == "not significant yet"
    straddling = {"significant": False, "absolute": {"value": 0.01, "low": -0.01, "high": 0.03}}
    assert verdict(straddling, mismatch=False) == "not significant"
    assert verdict(None, mismatch=False) == "-"
