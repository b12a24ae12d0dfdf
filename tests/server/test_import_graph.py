"""The modules of caw_server import each other without a cycle (TYPE_CHECKING imports count)."""

from __future__ import annotations

import ast
from pathlib import Path

import caw_server

PACKAGE = Path(caw_server.__file__).parent


def imports_of(path: Path) -> set[str]:
    """The caw_server modules ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from . import x / from .x import y
                base = node.module
                names = [base] if base else [a.name for a in node.names]
            elif node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
        else:
            continue
        for name in names:
            name = name.removeprefix("caw_server.") if name.startswith("caw_server.") else name
            if (PACKAGE / f"{name}.py").exists():
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in PACKAGE.glob("*.py")}
    return {name: imports_of(path) & modules.keys() for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_caw_server_has_no_import_cycle():
    edges = graph()
    assert "protocol" in edges["app"] and "app" not in edges["protocol"]
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])
