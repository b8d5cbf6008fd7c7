"""connector's import graph keeps the shape DESIGN.md draws: arrows point down, never up, and no
two modules import each other.

The layers, lowest first (a package imports only packages of lower layers):

0. ``errors``, ``backoff``, ``progress``, ``bounds`` (the numbers every edge accepts),
   ``api_tokens`` (the loyalty API's scoped tokens): what every layer may use.
1. ``project``: where the shipped defaults are.
2. ``config``: the settings.
3. ``store`` (the only SQL), ``mapping`` (the YAML and the value registry), ``logs``
   (redaction), ``alerts``: infrastructure, knowing nothing of the domain.
4. ``salesforce`` (the only code that talks to Salesforce; it writes the mappings' fields as
   SFDX source), ``events`` (the event model and its importers).
5. ``predictions``, ``scoring``, ``texts`` (what people write), ``webhooks``, ``orders_intel``
   (order risk, fulfilment trends, recommendations): models and normalisers, pure.
6. ``loyalty``: programs and the ledger (reads predictions' segments).
7. ``sync``: the pipeline that wires them; ``readiness``: what ``/readyz`` reports.
8. ``admin``: field deploy and the permission checks (it reads the sync's streams for the
   fields the integration user must see).
9. ``reports``, ``doctor``, ``demo``, ``scheduler``, ``web``: what runs them.
10. ``cli_project``, then 11. ``cli``: the commands.

And one rule across layers: the web process only acknowledges, so ``web`` imports neither
``sync`` nor ``salesforce`` (a gunicorn worker never loads the Salesforce client).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.support import REPO

CONNECTOR = REPO / "connector"

LAYERS: dict[str, int] = {
    "errors": 0,
    "backoff": 0,
    "progress": 0,
    "bounds": 0,
    "api_tokens": 0,
    "memory": 0,
    "project": 1,
    "config": 2,
    "store": 3,
    "mapping": 3,
    "salesforce": 4,
    "logs": 3,
    "alerts": 3,
    "events": 4,
    "predictions": 5,
    "scoring": 5,
    "texts": 5,
    "webhooks": 5,
    "orders_intel": 5,
    "loyalty": 6,
    "sync": 7,
    "reports": 9,
    "admin": 8,
    "readiness": 7,
    "doctor": 9,
    "demo": 9,
    "scheduler": 9,
    "web": 9,
    "cli_project": 10,
    "cli": 11,
}
NEVER: dict[str, set[str]] = {"web": {"sync", "salesforce"}}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _package(module: str) -> str:
    """``connector.store.db`` -> ``store``; ``connector.cli`` -> ``cli``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "connector"


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The connector modules a file imports (absolute imports; with ``top_level_only``, only
    those run at import time: not inside functions or ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("connector."))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.startswith("connector.")
        ):
            # ``from connector.sync import engine`` imports the module connector.sync.engine
            subs = {
                f"{node.module}.{a.name}"
                for a in node.names
                if _is_module(f"{node.module}.{a.name}")
            }
            names.update(subs)
            if len(subs) < len(node.names):
                names.add(node.module)
    return names


def _is_module(name: str) -> bool:
    path = REPO / name.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").exists()


def _files() -> list[Path]:
    files = sorted(CONNECTOR.rglob("*.py"))
    assert len(files) > 100
    return files


def test_every_package_has_a_layer() -> None:
    packages = {_package(_module(p)) for p in _files()} - {"connector"}
    assert packages <= set(LAYERS), f"give these a layer: {sorted(packages - set(LAYERS))}"


def test_imports_point_down_never_up() -> None:
    upward: dict[str, list[str]] = defaultdict(list)
    for path in _files():
        module = _module(path)
        source = _package(module)
        if source == "connector":
            continue
        for target in sorted(_imports(path, top_level_only=False)):
            goes_to = _package(target)
            if goes_to in (source, "connector"):
                continue
            if LAYERS[goes_to] >= LAYERS[source] or goes_to in NEVER.get(source, set()):
                upward[str(path.relative_to(REPO))].append(target)
    assert dict(upward) == {}


def test_no_two_modules_import_each_other() -> None:
    graph = {_module(p): {t for t in _imports(p, top_level_only=True)} for p in _files()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []
