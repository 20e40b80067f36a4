"""The house rules of the code's structure (CONTRIBUTING.md), read from the source itself:
no import cycle between the modules of `portal/`, no import hidden inside a function, one
clock, and the dossiers domain never climbing into the domains built on it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PORTAL = Path(__file__).resolve().parent.parent / "portal"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PORTAL.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(path): path
    for path in sorted(PORTAL.rglob("*.py"))
    if "static" not in path.relative_to(PORTAL).parts
}


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules of `portal/` an import statement names (a submodule when it is one)."""
    names: list[str] = []
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module or not node.module.startswith("portal"):
            return []
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            names.append(full if full in MODULES else node.module)
    else:
        names = [alias.name for alias in node.names if alias.name.startswith("portal")]
    return [name for name in names if name in MODULES]


def _type_checking_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import of the module, with whether it runs when the module is imported."""
    top = {id(node) for node in tree.body}
    hidden = {
        id(inner) for node in tree.body if _type_checking_block(node) for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in hidden:
            yield node, id(node) in top


def _graph() -> dict[str, set[str]]:
    """Module → modules it imports at import time. A package importing its own submodules
    (a blueprint package importing the modules that register its views) is how a package
    is assembled, not a dependency: those edges are left out."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for node, at_import_time in _imports(ast.parse(path.read_text())):
            if not at_import_time:
                continue
            for target in _imported(node):
                if target != name and not target.startswith(name + "."):
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
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


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules_of_portal() -> None:
    assert _cycles(_graph()) == []


def test_no_portal_module_is_imported_inside_a_function() -> None:
    hidden = [
        f"{path.relative_to(PORTAL.parent)}:{node.lineno}"
        for path in MODULES.values()
        for node, at_import_time in _imports(ast.parse(path.read_text()))
        if not at_import_time and _imported(node)
    ]
    assert hidden == []


def test_only_the_clock_knows_the_time_zone() -> None:
    zoned = [
        str(path.relative_to(PORTAL.parent))
        for name, path in MODULES.items()
        if name != "portal.clock"
        and ("ZoneInfo" in path.read_text() or "Europe/Paris" in path.read_text())
    ]
    assert zoned == []


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("portal.dossiers", "portal.service_fait"),
        ("portal.dossiers", "portal.signalements"),
        ("portal.dossiers", "portal.quality"),
        ("portal.public_list", "portal.dossiers"),
        ("portal.public_list", "portal.service_fait"),
        ("portal.models", "portal.blueprints"),
        ("portal.service_fait", "portal.blueprints"),
    ],
)
def test_a_domain_does_not_import_the_domains_built_on_it(lower: str, higher: str) -> None:
    climbing = [
        f"{name} → {target}"
        for name, path in MODULES.items()
        if name == lower or name.startswith(lower + ".")
        for node, _ in _imports(ast.parse(path.read_text()))
        for target in _imported(node)
        if target == higher or target.startswith(higher + ".")
    ]
    assert climbing == []
