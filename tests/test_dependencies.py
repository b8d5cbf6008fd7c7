"""pyproject.toml declares what the code imports, and the code uses what pyproject declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Our packages, and the benchmarks' shared module (bench/served.py, imported by its siblings).
OURS = {"connector", "localorg", "tests", "bench"} | {p.stem for p in (REPO / "bench").glob("*.py")}
# Declared runtime dependencies the code never imports, and why they are declared anyway.
RUN_NOT_IMPORTED = {"gunicorn": "serves the web process (Procfile)"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    return runtime, dev


def _imports(*folders: str) -> set[str]:
    """Top-level modules imported anywhere under ``folders`` (lazy imports included)."""
    found: set[str] = set()
    for folder in folders:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - OURS - {"__future__"}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    known = packages_distributions()
    return {m: {_name(d) for d in known.get(m, [])} for m in modules}


def test_everything_the_package_imports_is_declared() -> None:
    runtime, _ = _declared()
    missing = {
        module: dists
        for module, dists in _distributions(_imports("connector", "localorg")).items()
        if not dists & runtime
    }
    assert not missing, f"imported by connector/ or localorg/ but not in dependencies: {missing}"


def test_everything_tests_and_benchmarks_import_is_declared() -> None:
    runtime, dev = _declared()
    missing = {
        module: dists
        for module, dists in _distributions(_imports("tests", "bench")).items()
        if not dists & (runtime | dev)
    }
    assert not missing, f"imported by tests/ or bench/ but not declared: {missing}"


def test_every_declared_runtime_dependency_is_used() -> None:
    runtime, _ = _declared()
    used = set().union(*_distributions(_imports("connector", "localorg")).values())
    unused = runtime - used - set(RUN_NOT_IMPORTED)
    assert not unused, f"declared in dependencies but never imported: {sorted(unused)}"
