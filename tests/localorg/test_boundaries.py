"""localorg stands alone: nothing under localorg/ imports the connector.

localorg plays Salesforce. If it borrowed the connector's code (its errors, its progress lines),
a change made for the connector could quietly change the org the connector is tested against.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

LOCALORG = REPO / "localorg"


def _imported(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for path in LOCALORG.rglob("*.py")
    )


def test_no_localorg_source_names_the_connector() -> None:
    files = sorted(LOCALORG.rglob("*.py"))
    assert len(files) > 20  # the package and the seed subpackage are both walked
    offenders = {
        str(path.relative_to(REPO)): sorted(
            name for name in _imported(path) if name.split(".")[0] == "connector"
        )
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_all_of_localorg_loads_no_connector_module() -> None:
    script = (
        "import importlib, sys\n"
        f"for name in {_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'connector'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_walk_sees_an_import_of_the_connector(tmp_path: Path) -> None:
    # The check above would pass vacuously if _imported missed lazy or dotted imports.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    from connector.progress import Progress\n    import connector.errors\n",
        encoding="utf-8",
    )
    assert _imported(sample) == {"connector.progress", "connector.errors"}
