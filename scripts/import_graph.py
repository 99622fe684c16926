"""Measure the import graph of the ``siting`` package.

Prints the files that sit in import circles (strongly connected components of the
graph of ``import`` statements between the package's modules that run: at module
level or inside functions), the same counted with the imports of ``TYPE_CHECKING``
blocks too (annotations only), the annotation-only imports that point back up a
run-time chain, the imports that run against the package's layer order, and the
largest modules and functions.

Run from the repository root: ``python scripts/import_graph.py [--json]``.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

import networkx as nx

PACKAGE = "siting"

# Layers, lowest first: a module may import its own layer or a lower one. The solver
# library (``siting.optimize``) sits just above the shared helpers, below every stage.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "siting._version",
        "siting.errors",
        "siting.settings",
        "siting._invariants",
        "siting._clock",
        "siting._threads",
        "siting._io",
        "siting._geo",
        "siting._cache",
        "siting._outdir",
        "siting._assets",
    ),
    # the solver parts that stood at the package top before issue 28
    (
        "siting.optimize",
        "siting._benders",
        "siting._benders_cover",
        "siting._master",
        "siting._cover",
        "siting._cover_clients",
        "siting._rows",
        "siting._reduced",
        "siting._lagrangian",
        "siting._heuristics",
        "siting._solvers",
    ),
    (
        "siting.queueing",
        "siting.costs",
        "siting.segments",
        "siting._section_base",
        "siting._plan_sections",
        "siting.sections",
        "siting.scenario",
        "siting.designs",
    ),
    (
        "siting._osm",
        "siting._osm_online",
        "siting.network",
        "siting._overlay",
        "siting.cells",
        "siting._station_checks",
        "siting.existing",
        "siting._place_names",
        "siting.candidates",
        "siting._dijkstra",
        "siting.travel",
        "siting.results",
        "siting.demand",
    ),
    (
        "siting._solve_cache",
        "siting._site_controls",
        "siting._request_designs",
        "siting.request",
        "siting.frontier",
        "siting._plan_controls",
        "siting.planning",
        "siting.metrics",
        "siting.segment_figures",
        "siting.economics",
        "siting.kpis",
        "siting.evaluate",
        "siting.futures",
        "siting.futures.staging",
        "siting.futures.robust",
        # their names before issue 28
        "siting.staged",
        "siting.robustness",
        "siting.figures",
    ),
    (
        "siting._map_text",
        "siting.maps",
        "siting.summary",
        "siting.report",
        "siting.futures.report",
        "siting.report_futures",
        "siting.pipeline",
    ),
    (
        "siting.comparison",
        "siting.compare_views",
        "siting.compare",
        "siting._sweep_file",
        "siting.sweep",
        "siting.cli",
        "siting.__main__",
        "siting",
    ),
)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _typing_blocks(tree: ast.AST) -> set[int]:
    """Ids of the import nodes inside ``if TYPE_CHECKING:`` blocks (for annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return inside


def graph(root: Path) -> nx.DiGraph:
    """Modules and their imports; an edge's ``typing_only`` is True when every import
    along it stands in an ``if TYPE_CHECKING:`` block (never run)."""
    files = {module_name(p, root): p for p in (root / PACKAGE).rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        typing_only = _typing_blocks(tree)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(node, module, is_package)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                # the longest module name the target names
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    only = id(node) in typing_only
                    if g.has_edge(module, target):
                        only = only and g.edges[module, target]["typing_only"]
                    g.add_edge(module, target, typing_only=only)
                    break
    return g


def layer(module: str) -> int:
    best, depth = len(LAYERS), -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > depth:
                best, depth = i, len(name)
    return best


def longest_functions(root: Path, n: int = 5) -> list[tuple[int, str]]:
    out = []
    for path in (root / PACKAGE).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                out.append((length, f"{module_name(path, root)}.{node.name}"))
    return sorted(out, reverse=True)[:n]


def measure(root: Path) -> dict[str, object]:
    g = graph(root)
    run_time = nx.DiGraph((a, b) for a, b, only in g.edges(data="typing_only") if not only)
    circles = [sorted(c) for c in nx.strongly_connected_components(run_time) if len(c) > 1]
    # annotations that name a module importing this one (a helper naming its model's
    # class): never imported at run time, listed apart
    typing_back = sorted(
        f"{a} -> {b}"
        for a, b, only in g.edges(data="typing_only")
        if only and run_time.has_node(b) and run_time.has_node(a) and nx.has_path(run_time, b, a)
    )
    upward = sorted(f"{a} -> {b}" for a, b in g.edges if layer(b) > layer(a))
    into_run = sorted(f"{a} -> {b}" for a, b in g.edges if layer(a) == 1 and layer(b) > 1)
    sizes = sorted(
        (
            (len(p.read_text().splitlines()), module_name(p, root))
            for p in (root / PACKAGE).rglob("*.py")
        ),
        reverse=True,
    )
    return {
        "modules": g.number_of_nodes(),
        "imports": g.number_of_edges(),
        "files_in_circles": sum(len(c) for c in circles),
        "circles": circles,
        "all_imports_files_in_circles": sum(
            len(c) for c in nx.strongly_connected_components(g) if len(c) > 1
        ),
        "typing_only_back_references": typing_back,
        "upward_imports": upward,
        "solver_library_imports_of_the_run": into_run,
        "largest_modules": sizes[:5],
        "longest_functions": longest_functions(root),
        "modules_over_400": sum(1 for s, _ in sizes if s > 400),
        "functions_over_80": sum(1 for s, _ in longest_functions(root, 10**6) if s > 80),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--root", default=".")
    args = parser.parse_args()
    m = measure(Path(args.root).resolve())
    if args.json:
        json.dump(m, sys.stdout, indent=1)
        return 0
    for key, value in m.items():
        if isinstance(value, list):
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"  {item}")
        else:
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
