"""The store stands at the bottom: it imports nothing of the connector above it, and its own
modules import each other without a cycle.

If the store imported the domain (the loyalty ledger's columns, the webhooks' delivery class, the
sync's order merging), a change made for the domain could quietly rewrite a migration or a
stored row; a cycle among its modules means no module of it can be read, or replaced by a
second backend, alone.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

STORE = REPO / "connector" / "store"
ALLOWED = {"connector.errors"}  # besides the store's own modules
FORBIDDEN_ROOTS = (
    "connector.loyalty",
    "connector.webhooks",
    "connector.sync",
    "connector.web",
    "connector.scoring",
    "connector.predictions",
)


def _imported(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth of the file
    (relative imports resolved against the store package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add(".".join(["connector", "store", *filter(None, [node.module])]))
            elif node.module:
                names.add(node.module)
    return names


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _connector_imports() -> dict[str, set[str]]:
    files = sorted(STORE.glob("*.py"))
    assert len(files) >= 8  # the facade, the dialect, the schema and the repositories
    return {
        _module(path): {n for n in _imported(path) if n.split(".")[0] == "connector"}
        for path in files
    }


def test_the_store_imports_only_errors_and_itself() -> None:
    offenders = {
        module: sorted(n for n in names if n not in ALLOWED and not n.startswith("connector.store"))
        for module, names in _connector_imports().items()
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_importing_the_store_loads_no_module_above_it() -> None:
    script = (
        "import sys\n"
        "import connector.store\n"
        "from connector.store import Store\n"
        "Store(':memory:').close()\n"
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN_ROOTS!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_no_cycle_among_the_store_modules() -> None:
    graph = {
        module: {n for n in names if n.startswith("connector.store.")}
        for module, names in _connector_imports().items()
        if module != "connector.store"  # the package re-exports; its modules never import it
    }
    for module, names in graph.items():
        assert "connector.store" not in names, f"{module} imports the package it is part of"
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join([*path, module])
        if module in done:
            return
        for name in sorted(graph.get(module, set())):
            visit(name, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_the_walk_sees_lazy_relative_and_dotted_imports(tmp_path: Path) -> None:
    # The checks above would pass vacuously if _imported missed an import inside a function.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n"
        "    from connector.loyalty.ledger import JOURNAL_COLUMNS\n"
        "    import connector.webhooks.base\n"
        "    from . import schema\n",
        encoding="utf-8",
    )
    assert _imported(sample) == {
        "connector.loyalty.ledger",
        "connector.webhooks.base",
        "connector.store",
    }


def test_only_the_store_imports_the_postgresql_driver() -> None:
    # One owner per boundary: a psycopg import elsewhere would be SQL outside the store.
    outside = [
        path.relative_to(REPO)
        for path in (REPO / "connector").rglob("*.py")
        if STORE not in path.parents
        and any(n == "psycopg" or n.startswith("psycopg.") for n in _imported(path))
    ]
    assert outside == []
    assert any("psycopg" in _imported(path) for path in STORE.glob("*.py"))
