"""The layers of DESIGN.md ("Layout"), checked on the source: the import statements of every
module under regentra/, read with `ast` (nothing is imported), at module level and inside
functions alike.

Rules:
- `regentra.web` and `regentra.api` are siblings: neither imports the other (what both need
  lives in `regentra.http`).
- Domains (orgs auth clients tickets time_entries invoices catalog audit billing) are pure:
  they never import integrations, api, web, http, cli, the app or the sandboxes.
- Only the CLI imports the sandboxes (tests do too, but they are not under regentra/).
- The module import graph has no cycle.

What is an edge of the graph: `import a.b.c` and `from a.b import c` are an edge to the
module they name (`a.b.c`; or `a.b` when `c` is a name defined in it, not a submodule).
Python also runs the `__init__` of every parent package (`a`, `a.b`) first; those implicit
imports are not edges. A package `__init__` importing its own submodules (to re-export them)
is an edge like any other, so it only closes a cycle when a submodule in turn imports the
package itself (`from regentra.models import Org` inside `regentra/models/org.py`), which is
exactly the case that fails at import time with a partially initialized module.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "regentra"
DOMAINS = (
    "orgs",
    "auth",
    "clients",
    "tickets",
    "time_entries",
    "invoices",
    "catalog",
    "audit",
    "billing",
)
ABOVE_DOMAINS = ("integrations", "api", "web", "http", "cli", "app", "sandbox", "demo")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


MODULES = _modules()


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """(imported regentra module, line) for every import statement in `module`."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield (submodule if submodule in MODULES else source), node.lineno


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported regentra module: first line}."""
    graph: dict[str, dict[str, int]] = {}
    for module in MODULES:
        edges = graph.setdefault(module, {})
        for target, line in imports_of(module):
            if target in MODULES and target != module:
                edges.setdefault(target, line)
    return graph


GRAPH = _graph()


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(sources: str | tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
    sources = (sources,) if isinstance(sources, str) else sources
    found = []
    for module, edges in GRAPH.items():
        if not any(_within(module, s) for s in sources):
            continue
        for target, line in edges.items():
            if any(_within(target, t) for t in targets):
                found.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}")
    return found


def test_the_graph_sees_every_kind_of_import() -> None:
    # A module-level import, a function-level one (cli imports lazily), a `from package import
    # submodule` and a `from module import name`.
    assert "regentra.config" in GRAPH["regentra.queue"]
    assert "regentra.queue" in GRAPH["regentra.cli"]
    assert "regentra.periodic" in GRAPH["regentra.queue"]
    assert "regentra.models" in GRAPH["regentra.orgs.service"]
    assert len(MODULES) > 100


def test_web_does_not_import_api() -> None:
    assert _violations("regentra.web", ("regentra.api",)) == []


def test_api_does_not_import_web() -> None:
    assert _violations("regentra.api", ("regentra.web",)) == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_domains_import_no_layer_above_them(domain: str) -> None:
    above = tuple(f"{PACKAGE}.{name}" for name in ABOVE_DOMAINS)
    assert _violations(f"{PACKAGE}.{domain}", above) == []


def test_only_the_cli_imports_the_sandboxes() -> None:
    outside = tuple(
        m
        for m in MODULES
        if not _within(m, "regentra.sandbox") and m != "regentra.cli" and "." in m
    )
    assert _violations(outside, ("regentra.sandbox",)) == []


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None (iterative depth-first search)."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if color[start] != WHITE:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        color[start] = GREY
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                color[path.pop()] = BLACK
                stack.pop()
            elif color[nxt] == GREY:
                return [*path[path.index(nxt) :], nxt]
            elif color[nxt] == WHITE:
                color[nxt] = GREY
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_find_cycle_reports_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    if cycle is not None:
        steps = [
            f"{MODULES[a].relative_to(ROOT)}:{GRAPH[a][b]} imports {b}"
            for a, b in itertools.pairwise(cycle)
        ]
        pytest.fail("import cycle:\n  " + "\n  ".join(steps))
