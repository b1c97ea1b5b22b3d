"""The core imports only the standard library and itself (DESIGN.md §7).

import-linter (``make lint``, contracts in pyproject.toml) checks the layers between
Clarion's own packages, but it cannot say "standard library only": it only forbids
packages it is told about. This test reads every module of ``clarion.core`` with
``ast`` (imports inside functions and under ``TYPE_CHECKING`` included) and accepts
only ``sys.stdlib_module_names`` and ``clarion.core`` itself.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import clarion.core

CORE = Path(clarion.core.__file__).parent


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = [*package.split("."), *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        return [node.module or ""]
    # A relative import counts from the module's package (the module itself for an
    # __init__); going above the top package is an error Python reports, not us.
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return [".".join([*base, node.module] if node.module else base)]


def non_stdlib_imports(root: Path, package: str) -> list[str]:
    """Every import under ``root`` (the directory of ``package``) of anything but the
    standard library and ``package`` itself, as ``module:line imports name``."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root, package)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported(node, module, path.name == "__init__.py"):
                top = name.split(".")[0]
                own = name == package or name.startswith(package + ".")
                if not own and top not in sys.stdlib_module_names and top != "__future__":
                    found.append((module, node.lineno, name))
    return [f"{module}:{line} imports {name}" for module, line, name in sorted(found)]


def test_core_imports_only_the_standard_library_and_itself() -> None:
    assert non_stdlib_imports(CORE, "clarion.core") == []


def test_the_check_names_third_party_and_other_clarion_imports(tmp_path: Path) -> None:
    # The check above must be able to fail: a core-like package with one import of
    # each kind it must refuse, and the kinds it must accept.
    pkg = tmp_path / "core"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import model\n")
    (pkg / "model.py").write_text(
        "from __future__ import annotations\n"
        "import datetime, collections.abc\n"
        "from typing import TYPE_CHECKING\n"
        "from clarion.core.ids import new_id\n"
        "from .sub import deep\n"
        "if TYPE_CHECKING:\n"
        "    from clarion.store.base import Store\n"
        "def later() -> None:\n"
        "    import orjson\n"
    )
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "deep.py").write_text("from .. import model\nfrom ...runtime import clock\n")

    assert non_stdlib_imports(pkg, "clarion.core") == [
        "clarion.core.model:7 imports clarion.store.base",
        "clarion.core.model:9 imports orjson",
        "clarion.core.sub.deep:2 imports clarion.runtime",
    ]
