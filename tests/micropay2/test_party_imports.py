"""The parties import ports, never adapters: the module-level import closure of each party module
(read with ``ast``, following ``btcmicro`` modules; a package's ``__init__`` counts when it is what
is imported, not when it is only the parent of what is) contains neither sqlite3 nor httpx."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import btcmicro

ROOT = Path(btcmicro.__file__).parent
PARTIES = [
    "btcmicro.lottery.micropay2.payer",
    "btcmicro.lottery.micropay2.merchant",
    "btcmicro.lottery.micropay2.claimer",
    "btcmicro.lottery.micropay2.vts",
    "btcmicro.lottery.vts.party",
]
FORBIDDEN = {"sqlite3", "httpx"}


def _source(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for p in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if p.is_file():
            return p
    return None


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _module_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` runs: every import not inside a function, class body or
    ``if TYPE_CHECKING:`` block."""
    out: set[str] = set()

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names
                           if node.module.startswith("btcmicro") and _source(f"{node.module}.{a.name}"))
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return out


def closure(module: str) -> dict[str, str]:
    """Every module reachable from ``module`` -> the module that imported it first."""
    seen: dict[str, str] = {module: ""}
    todo = [module]
    while todo:
        m = todo.pop()
        path = _source(m)
        if path is None:
            continue
        for dep in _module_level_imports(path):
            top = dep.split(".")[0]
            key = dep if top == "btcmicro" else top
            if key not in seen:
                seen[key] = m
                if top == "btcmicro":
                    todo.append(dep)
    return seen


def _chain(seen: dict[str, str], m: str) -> str:
    path = [m]
    while seen[path[-1]]:
        path.append(seen[path[-1]])
    return " <- ".join(path)


@pytest.mark.parametrize("party", PARTIES)
def test_party_imports_no_adapter(party: str) -> None:
    assert importlib.util.find_spec(party) is not None
    seen = closure(party)
    bad = sorted(FORBIDDEN & set(seen))
    assert not bad, "; ".join(_chain(seen, b) for b in bad)


def test_the_walk_sees_adapters_where_they_are() -> None:
    """The check can fail: the SQLite adapters' own closure does contain sqlite3."""
    assert "sqlite3" in closure("btcmicro.lottery.micropay2.sqlite")
    assert "httpx" in closure("btcmicro.service.vts")


@pytest.mark.parametrize("shared", ["btcmicro.lottery.vts", "btcmicro.lottery.vts.party", "btcmicro.lottery.vts.audit",
                                    "btcmicro.lottery.vts.sqlite", "btcmicro.lottery.common", "btcmicro.wire.binary"])
def test_shared_packages_import_no_scheme(shared: str) -> None:
    seen = closure(shared)
    schemes = sorted(m for m in seen if m.startswith(("btcmicro.lottery.micropay", "btcmicro.channels")))
    assert not schemes, "; ".join(_chain(seen, m) for m in schemes)
