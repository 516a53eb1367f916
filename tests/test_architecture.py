"""The package's layers, read from the source: no import cycle, and the analysis side never reaches
the collectors. Imports inside functions count (an import moved into a function to dodge a cycle
still is one); imports under ``if TYPE_CHECKING:`` do not (they never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "audit"
# Layers that must never import the collectors (directly or through anything they import).
ANALYSIS_SIDE = ("audit.analysis", "audit.rules", "audit.mapping", "audit.render", "audit.targets")


def _modules(root: Path) -> dict[str, Path]:
    mods = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines |= {n.lineno for n in ast.walk(child) if hasattr(n, "lineno")}
    return lines


def _targets(
    module: str, path: Path, node: ast.Import | ast.ImportFrom, mods: dict[str, Path]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, base] if base else parts)
    for alias in node.names:  # ``from pkg import name``: the submodule ``name`` if there is one
        full = f"{base}.{alias.name}"
        yield full if full in mods else base


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the package modules it imports anywhere in its body (TYPE_CHECKING aside)."""
    mods = _modules(root)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or node.lineno in skip:
                continue
            for target in _targets(name, path, node, mods):
                while target not in mods and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in mods and target not in (name, "audit"):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("layer", ANALYSIS_SIDE)
def test_the_analysis_side_never_reaches_the_collectors(layer: str) -> None:
    graph = import_graph()
    leaks = {
        module: sorted(t for t in reachable(graph, module) if t.startswith("audit.collectors"))
        for module in graph
        if module == layer or module.startswith(layer + ".")
    }
    assert {m: t for m, t in leaks.items() if t} == {}


def test_the_walker_sees_cycles_and_function_level_imports(tmp_path: Path) -> None:
    package = tmp_path / "audit"
    (package / "collectors").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "collectors" / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from audit import b\n")
    (package / "b.py").write_text("from audit.a import f\nfrom . import c\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import audit.a\nimport audit.collectors\n"
    )
    graph = import_graph(package)
    assert cycles(graph) == [["audit.a", "audit.b"]]
    assert "audit.collectors" in reachable(graph, "audit.a")
    assert "audit.a" not in graph["audit.c"]
