"""The simulator drives the real pipeline with a known effect; the report recovers it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clarion.catalog import load_catalog
from clarion.cli import main
from clarion.experiments.scenario import Scenario, Truth, read_scenario
from clarion.experiments.simulate import simulate

CATALOG = Path(__file__).parents[2] / "catalog"


def test_the_report_recovers_the_true_lifts(tmp_path: Path) -> None:
    scenario = Scenario(
        {
            "continue_watching": Truth(0.20, 0.15, holdout=0.5),
            "signup_dropoff": Truth(0.30, 0.05, holdout=0.3, cells={"benefit_first": 0.15}),
        },
        profiles=1200,
        seed=1,  # a fixed run; coverage over many runs is the statistics' own test
    )
    result = simulate(scenario, load_catalog(CATALOG), tmp_path)
    report: Any = result.report  # JSON, read as a client would
    found = {m["message"]: m for m in report["messages"]}
    assert set(found) == {"continue_watching", "signup_dropoff"}
    for name, message in found.items():
        truth = result.truth[name]["absolute_lift"]
        lift = message["overall"]["lift"]
        assert lift["absolute"]["low"] <= truth <= lift["absolute"]["high"], (name, lift)
        assert lift["always_valid"]["low"] <= truth <= lift["always_valid"]["high"]
        assert lift["significant"], name  # large true effects are detected
        assert not message["overall"]["srm"]["mismatch"]
        decisions = message["overall"]["treated"]["decisions"]
        assert decisions + message["overall"]["held_out"]["decisions"] == 1200
    # Cells mix into the overall truth by their shares; each cell against the control.
    assert result.truth["signup_dropoff"]["absolute_lift"] == pytest.approx(0.05 + 0.5 * 0.15)
    [versus] = found["signup_dropoff"]["experiment"]["comparisons"]
    absolute = versus["lift"]["absolute"]
    assert absolute["low"] <= 0.15 <= absolute["high"] and absolute["low"] > 0


def test_scenarios_from_yaml_name_the_bad_key() -> None:
    good = read_scenario(
        {"profiles": 10, "messages": {"m": {"base": 0.1, "lift": 0.02, "cells": {"b": 0.01}}}}
    )
    assert good.messages["m"] == Truth(0.1, 0.02, None, {"b": 0.01})
    cases = [
        ({"messages": {}}, "messages"),
        ({"messages": {"m": {"base": 0.1}}}, "messages.m"),
        ({"messages": {"m": {"base": "x", "lift": 0}}}, "messages.m.base"),
        ({"messages": {"m": {"base": 0.9, "lift": 0.2}}}, "messages.m"),
        ({"messages": {"m": {"base": 0.1, "lift": 0}}, "profiles": 0}, "profiles"),
        ({"messages": {"m": {"base": 0.1, "lift": 0}}, "colour": 1}, "scenario"),
    ]
    for data, key in cases:
        with pytest.raises(ValueError, match=f"^{key}"):
            read_scenario(data)


def test_simulate_then_report_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    workdir = tmp_path / "run"
    args = ["simulate", "--catalog", str(CATALOG), "--profiles", "300", "--holdout", "0.5"]
    result = runner.invoke(main, [*args, "--workdir", str(workdir), "--lift", "0.1"])
    assert result.exit_code == 0, result.output
    assert "continue_watching" in result.output and "truth vs estimate:" in result.output
    assert "true absolute lift +10.00%" in result.output
    env = {
        "CLARION_DATABASE_URL": f"sqlite:///{workdir / 'simulation.db'}",
        "CLARION_CATALOG": str(CATALOG),
    }
    report = runner.invoke(main, ["report", "--json"], env=env)
    assert report.exit_code == 0, report.output
    [message] = json.loads(report.output)["messages"]
    assert message["message"] == "continue_watching"
    assert (
        message["overall"]["treated"]["decisions"] + message["overall"]["held_out"]["decisions"]
        == 300
    )
    # The catalog declares 5%, the run held out half: the check compares with the run's.
    assert message["holdout"] == 0.5 and not message["overall"]["srm"]["mismatch"]
    table = runner.invoke(main, ["report", "--message", "continue_watching"], env=env)
    assert table.exit_code == 0 and "MISMATCH" not in table.output
    window = ["report", "--json", "--since", "2026-03-02", "--until", "2026-03-03T00:00+00:00"]
    inside = runner.invoke(main, window, env=env)
    assert inside.exit_code == 0 and json.loads(inside.output)["messages"]
    later = runner.invoke(main, ["report", "--json", "--since", "2026-03-09"], env=env)
    assert json.loads(later.output)["messages"] == []
    bad = runner.invoke(main, ["report", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2 and "--since" in bad.output
    backwards = ["report", "--since", "2026-03-03", "--until", "2026-03-02"]
    assert "--until" in runner.invoke(main, backwards, env=env).output
    bad = runner.invoke(main, ["simulate", "--catalog", str(CATALOG), "--message", "nope"])
    assert bad.exit_code == 2 and "not in the catalog" in bad.output


def test_report_on_a_database_without_the_schema_says_so(tmp_path: Path) -> None:
    env = {
        "CLARION_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "CLARION_CATALOG": str(CATALOG),
    }
    result = CliRunner().invoke(main, ["report"], env=env)
    assert result.exit_code == 2 and "clarion migrate" in result.output
