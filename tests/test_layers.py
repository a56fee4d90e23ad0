"""One direction of imports: no module of the package imports, even inside a function, a module
that imports it back, and none imports another module's private names.

The graph is read from the source with ``ast``, so it sees the imports that run inside
functions too (Python tolerates a loop through those; a reader does not). Not counted:
imports under ``if TYPE_CHECKING:`` (they never run) and those inside a module-level
``__getattr__``, which hands out a name that moved to a higher layer only when a caller asks for
it (the caller's dependency, not the module's; see ``themesift.pipeline``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import themesift

PACKAGE_DIR = Path(themesift.__file__).resolve().parent
PACKAGE = "themesift"


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name; a package is its ``__init__.py``."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.Module, *, runtime_only: bool):
    """The module's import statements, at any depth; with ``runtime_only`` not those under
    ``if TYPE_CHECKING:`` nor in a module-level ``__getattr__``."""
    def visit(node: ast.AST, top: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            elif runtime_only and isinstance(child, ast.If) and _is_type_checking(child.test):
                yield from visit(ast.Module(body=child.orelse, type_ignores=[]), False)
            elif (runtime_only and top and isinstance(child, ast.FunctionDef)
                  and child.name == "__getattr__"):
                continue
            else:
                yield from visit(child, False)

    yield from visit(tree, True)


def _imports(name: str, path: Path, modules: dict[str, Path], *, runtime_only: bool):
    """``(line, target module, imported names)`` for each import of a module of the package."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in _import_nodes(tree, runtime_only=runtime_only):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield node.lineno, alias.name, []
            continue
        if node.level:
            base = name.split(".")
            base = base[:len(base) - node.level + is_package]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        if source != PACKAGE and not source.startswith(PACKAGE + "."):
            continue
        names = [alias.name for alias in node.names]
        submodules = [f"{source}.{n}" for n in names if f"{source}.{n}" in modules]
        yield from ((node.lineno, sub, []) for sub in submodules)
        if len(submodules) < len(names):
            yield node.lineno, source, [n for n in names if f"{source}.{n}" not in modules]


def import_graph() -> dict[str, dict[str, str]]:
    """module -> {module it imports at run time: where ("path:line")}."""
    modules = _modules()
    graph: dict[str, dict[str, str]] = {name: {} for name in modules}
    for name, path in modules.items():
        for line, target, _ in _imports(name, path, modules, runtime_only=True):
            if target != name and target in modules:
                graph[name].setdefault(target, f"{path.relative_to(PACKAGE_DIR.parent)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Cycles (their modules, the first repeated at the end) that together hold every import
    on a cycle: for each such import not yet shown, the shortest cycle through it."""
    found: list[list[str]] = []
    shown: set[tuple[str, str]] = set()
    for source in sorted(graph):
        for target in sorted(graph[source]):
            back = _shortest_path(target, source, graph)
            if (source, target) not in shown and back:
                found.append([source, *back])
                shown.update(zip(found[-1], found[-1][1:]))
    return found


def _shortest_path(start: str, end: str, graph: dict[str, dict[str, str]]) -> list[str] | None:
    """The modules on the shortest chain of imports from ``start`` to ``end``, or None."""
    previous: dict[str, str] = {start: start}
    frontier = [start]
    while frontier and end not in previous:
        following = []
        for node in frontier:
            for target in sorted(graph[node]):
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    if end not in previous:
        return None
    path = [end]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def describe(cycle: list[str], graph: dict[str, dict[str, str]]) -> str:
    """``a -> b (a.py:3) -> a (b.py:7)``."""
    steps = [cycle[0]] + [f"{b} ({graph[a][b]})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(steps)


def private_imports() -> list[str]:
    """``path:line: from module import _name`` for every private name taken from another
    module of the package (dunder names such as ``__version__`` are not private)."""
    modules = _modules()
    found = []
    for name, path in modules.items():
        for line, target, names in _imports(name, path, modules, runtime_only=False):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != name:
                where = path.relative_to(PACKAGE_DIR.parent)
                found.extend(f"{where}:{line}: from {target} import {n}" for n in private)
    return found


def test_the_graph_sees_function_level_relative_and_absolute_imports():
    graph = import_graph()
    assert "themesift.study" not in graph["themesift.review.widget"]  # TYPE_CHECKING only
    assert "themesift.pipeline" in graph["themesift.study"]  # inside Study.run
    assert "themesift.cli" in graph["themesift.__main__"]
    assert "themesift.ingest" in graph["themesift"]  # a package is its __init__


def test_type_checking_and_getattr_imports_run_never_or_for_callers(tmp_path):
    path = tmp_path / "report.py"
    path.write_text("from typing import TYPE_CHECKING\n"
                    "import themesift.model\n"
                    "from ._common import study_view, _private\n"
                    "from .. import text\n"
                    "if TYPE_CHECKING:\n"
                    "    from ..study import Study\n"
                    "def f():\n"
                    "    from ..pipeline import PipelineResult\n"
                    "def __getattr__(name):\n"
                    "    from ..outputs import write_outputs\n")
    found = {runtime: {target: names for _, target, names in _imports(
        "themesift.export.report", path, _modules(), runtime_only=runtime)}
        for runtime in (True, False)}
    assert found[True] == {"themesift.model": [], "themesift.text": [],
                           "themesift.export._common": ["study_view", "_private"],
                           "themesift.pipeline": ["PipelineResult"]}
    assert found[False] == {**found[True], "themesift.study": ["Study"],
                            "themesift.outputs": ["write_outputs"]}


def test_cycles_are_found_and_shown_as_a_chain():
    graph = {"a": {"b": "a.py:1"}, "b": {"c": "b.py:2"}, "c": {"a": "c.py:3", "d": "c.py:4"},
             "d": {}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    graph["b"]["a"] = "b.py:5"
    assert cycles(graph) == [["a", "b", "a"], ["b", "c", "a", "b"]]
    assert describe(["a", "b", "c", "a"], graph) == "a -> b (a.py:1) -> c (b.py:2) -> a (c.py:3)"
    assert cycles({"a": {"b": ""}, "b": {}}) == []


def private_module_imports() -> list[str]:
    """``path:line: imports pkg._module`` for every import of a package's private module from
    outside that package (a package's ``_io``/``_version`` beside it are shared by its
    siblings: ``themesift._io`` is the package's own)."""
    modules = _modules()
    found = []
    for name, path in modules.items():
        for line, target, _ in _imports(name, path, modules, runtime_only=False):
            parts = target.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_")
                       and not part.startswith("__")]
            if not private:
                continue
            owner = ".".join(parts[:private[0]])  # the package the private module is inside
            if owner != PACKAGE and not (name == owner or name.startswith(owner + ".")):
                where = path.relative_to(PACKAGE_DIR.parent)
                found.append(f"{where}:{line}: imports {target}")
    return found


def test_no_module_imports_another_packages_private_modules():
    found = private_module_imports()
    if found:
        pytest.fail("Private modules of another package imported (import the name from the "
                    "package, which re-exports it):\n" + "\n".join(found))


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    found = [describe(cycle, graph) for cycle in cycles(graph)]
    if found:
        pytest.fail("Import cycles (move what both need down a layer):\n" + "\n".join(found))


def test_no_module_imports_another_modules_private_names():
    found = private_imports()
    if found:
        pytest.fail("Private names imported from another module (give them a public name where "
                    "they belong):\n" + "\n".join(found))
