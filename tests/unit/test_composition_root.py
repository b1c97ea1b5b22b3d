"""One composition root: only ``clarion.service`` builds the store, providers and workers.

The worker children (``runtime/processes.py``) and the simulator
(``experiments/simulate.py``) used to build them again, each with its own idea of
which settings apply. This test reads every module of ``clarion`` with ``ast`` and
lists the calls that construct those parts outside the modules allowed to.
"""

from __future__ import annotations

import ast
from pathlib import Path

import clarion

SRC = Path(clarion.__file__).parent

#: What is built, and the modules allowed to build it (relative to ``src/clarion``).
BUILDERS: dict[str, frozenset[str]] = {
    "SqlStore": frozenset({"service.py", "store/sql/store.py"}),  # the class's own module
    "open_store": frozenset({"service.py"}),
    "build_providers": frozenset({"service.py"}),
    "CatalogHolder": frozenset({"service.py"}),
    "Workers": frozenset({"service.py"}),
    # The workers own their orchestrator, escalator and dispatcher.
    "Orchestrator": frozenset({"runtime/workers.py"}),
    "Escalator": frozenset({"runtime/workers.py"}),
    "Dispatcher": frozenset({"runtime/workers.py"}),
}


def constructions(root: Path) -> list[str]:
    """Every call of a name in ``BUILDERS`` outside its allowed modules, as ``path:line name``."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in BUILDERS and relative not in BUILDERS[name]:
                found.append(f"{relative}:{node.lineno} {name}")
    return found


def test_only_the_service_builds_store_providers_and_workers() -> None:
    assert constructions(SRC) == []


def test_the_scan_finds_a_construction_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "child.py").write_text(
        "from clarion.store import SqlStore\n"
        "import clarion.runtime.workers as w\n"
        "store = SqlStore('sqlite://')\n"
        "workers = w.Workers(store)\n",
        encoding="utf-8",
    )
    (tmp_path / "service.py").write_text("store = SqlStore('sqlite://')\n", encoding="utf-8")
    assert constructions(tmp_path) == ["runtime/child.py:3 SqlStore", "runtime/child.py:4 Workers"]
