"""The shape of btcmicro's imports, read from the source with ``ast`` (nothing is imported):

(a) no import cycle between btcmicro's modules;
(b) no btcmicro module imported inside a function, except in the CLI (``btcmicro/cli/``), which
    defers them so that ``btcmicro --help`` starts fast.

The graph has an edge A -> B for each import A runs when it is loaded: module-level imports,
including those in class bodies and in ``try``/``if`` blocks, but not those under
``if TYPE_CHECKING:``. ``import btcmicro.x.y`` and ``from btcmicro.x.y import name`` point at
``btcmicro.x.y``; ``from btcmicro.x import y`` points at ``btcmicro.x.y`` when ``y`` is a submodule,
else at ``btcmicro.x``. Relative imports are resolved the same way. The parent packages Python
initialises on the way to a submodule are not edges: a package's ``__init__`` importing its own
submodules is the usual shape, not a cycle.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import btcmicro

PACKAGE_DIR = Path(btcmicro.__file__).resolve().parent
ROOT = "btcmicro"
#: Function-level imports are allowed here (start-up time of the command line).
LAZY_IMPORTS_ALLOWED = ("btcmicro.cli",)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the btcmicro module it loads
    line: int
    in_function: bool
    resolved: bool = True  # False: no such module in the tree (a broken import)

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def discover() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py")) if "__pycache__" not in p.parts}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(body: list[ast.stmt], in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in ``body`` and whether it runs inside a function, skipping
    ``if TYPE_CHECKING:`` bodies (their ``else`` branch runs)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(node.orelse, in_function)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk(node.body, True)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    stmts = [c for c in children if isinstance(c, ast.stmt)]
                    # except handlers and match cases hold their statements one level down
                    stmts += [s for c in children if isinstance(c, (ast.ExceptHandler, ast.match_case))
                              for s in c.body]
                    yield from _walk(stmts, in_function)


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node, in_function in _walk(tree.body, False):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                base_parts = package[:len(package) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if alias.name != "*" and sub in modules else base)
        for target in targets:
            if target == name or (target != ROOT and not target.startswith(ROOT + ".")):
                continue
            imp = Import(name, target, node.lineno, in_function, target in modules)
            if imp not in found:
                found.append(imp)
    return found


def all_imports() -> list[Import]:
    modules = discover()
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


def find_cycles(edges: list[Import]) -> list[list[Import]]:
    """One cycle (as its import statements) per strongly connected component with more than one module."""
    graph: dict[str, dict[str, Import]] = {}
    for e in edges:
        graph.setdefault(e.source, {}).setdefault(e.target, e)
        graph.setdefault(e.target, {})
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    cycles = []
    for component in components:
        members = set(component)
        start = component[0]
        # the shortest way back to start within the component (breadth first)
        previous: dict[str, Import] = {}
        frontier = [start]
        while frontier and start not in previous:
            nxt = []
            for v in frontier:
                for w, e in sorted(graph[v].items()):
                    if w in members and w not in previous:
                        previous[w] = e
                        nxt.append(w)
            frontier = nxt
        path: list[Import] = []
        node = start
        while True:
            e = previous[node]
            path.append(e)
            node = e.source
            if node == start:
                break
        cycles.append(path[::-1])
    return cycles


# -- the checker checks itself --------------------------------------------------------------------------


def test_the_checker_resolves_the_forms_of_import(tmp_path):
    modules = {"btcmicro": tmp_path / "__init__.py", "btcmicro.a": tmp_path / "a" / "__init__.py",
               "btcmicro.a.b": tmp_path / "a" / "b.py", "btcmicro.a.c": tmp_path / "a" / "c.py",
               "btcmicro.d": tmp_path / "d.py"}
    source = tmp_path / "a" / "b.py"
    source.parent.mkdir()
    source.write_text(
        "from __future__ import annotations\n"
        "import os\n"
        "import btcmicro.d\n"                      # 3 -> btcmicro.d
        "from btcmicro.a import c, helper\n"       # 4 -> btcmicro.a.c (submodule), btcmicro.a (a name)
        "from . import c as c2\n"                  # 5 -> btcmicro.a.c
        "from ..d import thing\n"                  # 6 -> btcmicro.d
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from btcmicro.d import Hidden\n"      # not an edge
        "else:\n"
        "    from btcmicro.a.c import shown\n"     # 11 -> btcmicro.a.c
        "try:\n"
        "    import btcmicro.d.missing\n"          # 13 -> btcmicro.d.missing, which does not exist
        "except ImportError:\n"
        "    from btcmicro import d\n"             # 15 -> btcmicro.d
        "class K:\n"
        "    from btcmicro.a import c\n"           # 17 -> btcmicro.a.c, at import time
        "    def m(self):\n"
        "        from btcmicro.d import late\n"    # 19 -> btcmicro.d, in a function
        "async def f():\n"
        "    if True:\n"
        "        import btcmicro.a.c\n"            # 22 -> btcmicro.a.c, in a function
    )
    got = [(i.target, i.line, i.in_function) for i in imports_of("btcmicro.a.b", source, modules) if i.resolved]
    assert got == [("btcmicro.d", 3, False), ("btcmicro.a.c", 4, False), ("btcmicro.a", 4, False),
                   ("btcmicro.a.c", 5, False), ("btcmicro.d", 6, False), ("btcmicro.a.c", 11, False),
                   ("btcmicro.d", 15, False), ("btcmicro.a.c", 17, False),
                   ("btcmicro.d", 19, True), ("btcmicro.a.c", 22, True)]
    assert [(i.target, i.line) for i in imports_of("btcmicro.a.b", source, modules) if not i.resolved] == [
        ("btcmicro.d.missing", 13)]


def test_the_checker_finds_cycles():
    def imp(a: str, b: str) -> Import:
        return Import(a, b, 1, False)

    edges = [imp("x", "y"), imp("y", "z"), imp("z", "x"), imp("z", "w"), imp("p", "q"), imp("q", "p"), imp("w", "v")]
    cycles = find_cycles(edges)
    assert sorted([[(e.source, e.target) for e in c] for c in cycles]) == [
        [("p", "q"), ("q", "p")], [("x", "y"), ("y", "z"), ("z", "x")]]
    assert find_cycles([imp("a", "b"), imp("b", "c"), imp("a", "c")]) == []


# -- the tree -------------------------------------------------------------------------------------------


def test_every_module_parses_and_the_graph_is_not_empty():
    modules = discover()
    assert "btcmicro.cli" in modules and "btcmicro.pytest_plugin" in modules
    assert len([e for e in all_imports() if not e.in_function]) > 50


def test_every_btcmicro_import_names_a_module_of_the_tree():
    broken = [e for e in all_imports() if not e.resolved]
    assert not broken, "imports of btcmicro modules that do not exist:\n" + "\n".join(f"  {e}" for e in broken)


def test_no_import_cycle():
    cycles = find_cycles([e for e in all_imports() if e.resolved and not e.in_function])
    assert not cycles, "import cycles in btcmicro:\n" + "\n".join(
        "  " + "  ->  ".join(str(e) for e in cycle) for cycle in cycles)


def test_no_function_level_import_outside_the_cli():
    lazy = [e for e in all_imports() if e.in_function
            and not any(e.source == p or e.source.startswith(p + ".") for p in LAZY_IMPORTS_ALLOWED)]
    assert not lazy, "btcmicro modules imported inside functions (import them at module level):\n" + "\n".join(
        f"  {e}" for e in lazy)
