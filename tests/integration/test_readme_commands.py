"""The README's command blocks, run as a new user would type them.

Each ``.venv/bin/clarion`` line of a covered section runs through the CLI (in a
scratch directory holding the example catalog), in order, with its environment
assignments; a README edit that breaks a command fails here. Lines that need a
running server (``curl``) are covered by the API tests instead.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from clarion.cli import main

ROOT = Path(__file__).parents[2]
_CLI = ".venv/bin/clarion"


def commands(section: str) -> list[tuple[dict[str, str], list[str]]]:
    """The ``clarion`` commands of the README section headed ``## {section}``: each with
    its leading ``NAME=value`` assignments and its arguments (comments dropped)."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, f"no README section {section!r}"
    found = []
    for block in re.findall(r"```sh\n(.*?)```", match.group(1), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            env = {}
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                name, _, value = words.pop(0).partition("=")
                env[name] = value
            if words and words[0] == _CLI:
                found.append((env, words[1:]))
    return found


def run_section(section: str, where: Path) -> list[Result]:
    (where / "catalog").symlink_to(ROOT / "catalog")
    runner = CliRunner()
    results = []
    for env, args in commands(section):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        results.append(result)
    return results


def test_the_experiments_demo_runs_and_reads_as_the_run_it_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLARION_DATABASE_URL", raising=False)
    monkeypatch.delenv("CLARION_CATALOG", raising=False)
    simulated, reported = run_section("Experiments and incrementality", tmp_path)
    assert "truth vs estimate:" in simulated.output
    table = reported.output.splitlines()
    header, overall = table[0], table[1]
    assert overall.startswith("continue_watching")
    # The run held out 20% (the catalog 5%): the sample-ratio check compares with the run.
    assert "MISMATCH" not in reported.output
    # Each row says what the numbers mean, so a non-significant lift is not read as one.
    assert header.split()[-1] == "verdict"
    assert overall.split("  ")[-1].strip() in {
        "lift",
        "harm",
        "not significant",
        "not significant yet",
        "suspect (SRM)",
    }


def test_the_catalog_check_runs_as_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    [checked] = run_section("The catalog", tmp_path)
    assert checked.output.strip() == "ok: catalog"
