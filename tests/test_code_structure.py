"""The layout rules of the package and its tests, checked on the source text.

* no test imports a script of ``benchmarks/`` (what tests need lives in the package);
* no function of ``src/tessetrack`` is longer than :data:`MAX_LINES` lines (``def`` line to last
  line, decorators and docstring included), except the ones :data:`TOO_LONG` still lists.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
PACKAGE = ROOT / "src" / "tessetrack"

MAX_LINES = 80

# Functions still over MAX_LINES, waiting to be split into named helpers; remove an entry once its
# function is short. The test fails on any function over the limit that is not listed here, and on
# an entry whose function is now short enough (or gone), so this list only ever shrinks.
TOO_LONG: set[str] = set()  # none left


def _imported_modules(path: Path) -> set[str]:
    """The names of every module ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _mentions_benchmark_paths(path: Path) -> bool:
    """Whether ``path`` builds a path into ``benchmarks/`` (``... / "benchmarks"``), as loading a
    script by file location does."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Div)
            and isinstance(node.right, ast.Constant)
            and node.right.value == "benchmarks"
        ):
            return True
    return False


def test_no_test_imports_from_benchmarks():
    benchmark_modules = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} | {"benchmarks"}
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue  # this file names the folder to list its scripts
        imported = {name.split(".")[0] for name in _imported_modules(path)}
        if imported & benchmark_modules or _mentions_benchmark_paths(path):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _function_lengths(path: Path) -> dict[str, int]:
    """``Class.method`` / ``function`` / ``outer.inner`` → lines (end_lineno - lineno + 1)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lengths: dict[str, int] = {}
    todo: list[tuple[ast.AST, str]] = [(node, "") for node in tree.body]
    while todo:
        node, prefix = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                lengths[name] = node.end_lineno - node.lineno + 1
            todo.extend((child, name + ".") for child in node.body)
    return lengths


def test_function_lengths_counts_def_to_last_line(tmp_path):
    source = "def f():\n    x = 1\n    return x\n\n\nclass A:\n    def g(self):\n        pass\n"
    (tmp_path / "m.py").write_text(source)
    assert _function_lengths(tmp_path / "m.py") == {"f": 3, "A.g": 2}


def test_no_function_in_the_package_is_too_long():
    lengths = {
        f"{path.relative_to(PACKAGE).as_posix()}::{name}": n
        for path in sorted(PACKAGE.rglob("*.py"))
        for name, n in _function_lengths(path).items()
    }
    too_long = {name for name, n in lengths.items() if n > MAX_LINES}
    assert sorted(too_long - TOO_LONG) == [], "split these into named helpers"
    assert sorted(TOO_LONG - too_long) == [], "short now (or gone): remove from TOO_LONG"
