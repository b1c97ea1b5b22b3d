"""With ``CI`` set, property tests run Hypothesis's ``ci`` profile (tests/conftest.py):
the same examples every run, and no time limit that a loaded machine could break."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The settings a test gets when it sets none itself, after tests/conftest.py loaded.
_PROBE = (
    "import tests.conftest\n"
    "from hypothesis import HealthCheck, settings\n"
    "d = settings.default\n"
    "print(d.deadline, d.derandomize, d.database is None, sep='\\n')\n"
    "print(HealthCheck.too_slow in d.suppress_health_check)"
)


def _defaults(ci: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_ci_runs_derandomized_without_deadline_or_example_database() -> None:
    assert _defaults("true") == ["None", "True", "True", "True"]


def test_outside_ci_hypothesis_keeps_its_defaults() -> None:
    deadline, *rest = _defaults(None)
    assert deadline != "None"
    assert rest == ["False", "False", "False"]
