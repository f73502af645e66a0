"""The modules of ``tessetrack.data`` import each other without a cycle, deferred imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import tessetrack.data

PACKAGE = "tessetrack.data"
FOLDER = Path(tessetrack.data.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    """The ``tessetrack.data.*`` modules ``path`` imports, at module level or inside a function (a
    deferred import is still a dependency); ``if TYPE_CHECKING:`` blocks are left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name.startswith(PACKAGE + ".")}


def _graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (``__init__`` is the package itself, left out)."""
    modules = {f"{PACKAGE}.{p.stem}": p for p in FOLDER.glob("*.py") if p.stem != "__init__"}
    return {name: _imports(path) & modules.keys() for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path of modules (first = last), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_hand_made_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_the_readers_import_the_base():
    graph = _graph()
    assert f"{PACKAGE}.base" in graph[f"{PACKAGE}.panoptic"]
    assert f"{PACKAGE}.shelf_campus" in graph[f"{PACKAGE}.layouts"]


def test_data_modules_import_without_a_cycle():
    assert _cycle(_graph()) is None
