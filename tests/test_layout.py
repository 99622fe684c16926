"""The package's layout: the solver library knows nothing of the run, and no module
imports another that (through others) imports it back."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIMIZE = ROOT / "siting" / "optimize"

#: What a run is made of: the solver library imports none of it.
RUN_MODULES = (
    "siting.demand",
    "siting.results",
    "siting.sections",
    "siting.scenario",
    "siting.travel",
    "siting.queueing",
    "siting.pipeline",
    "siting.planning",
)


def _import_graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    if spec is None or spec.loader is None:
        raise ImportError("scripts/import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _imported(text: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module the source ``text`` of ``module`` names in an import, wherever the
    statement stands (in functions, ``TYPE_CHECKING`` blocks), with its line; relative
    imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            out += [(node.lineno, base)] + [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _names_a_run_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in RUN_MODULES)


@pytest.mark.parametrize(
    "path", sorted(OPTIMIZE.rglob("*.py")), ids=lambda p: str(p.relative_to(OPTIMIZE))
)
def test_the_solver_library_imports_nothing_of_the_run(path: Path) -> None:
    names = _imported(path.read_text(), _module(path), is_package=path.name == "__init__.py")
    bad = [f"line {n}: {name}" for n, name in names if _names_a_run_module(name)]
    assert not bad, f"{path.relative_to(ROOT)} imports the run: {', '.join(bad)}"


def test_the_layout_check_sees_imports_in_functions_and_type_checking() -> None:
    """The check above sees an import of the run anywhere in a file, relative ones too."""
    text = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from siting.results import Inputs\n"
        "def f():\n    import siting.travel\n    from ... import queueing\n"
    )
    names = {name for _, name in _imported(text, "siting.optimize.covering.model")}
    assert {"siting.results", "siting.travel", "siting.queueing"} <= names
    assert all(_names_a_run_module(n) for n in ("siting.results", "siting.travel.x"))
    assert not _names_a_run_module("siting.travelling")


def test_the_package_has_no_import_circles() -> None:
    """No module imports (at run time) another that imports it back, through any chain;
    an annotation may name a module above only inside its own model family (a helper
    naming its model's class)."""
    measured = _import_graph().measure(ROOT)
    assert measured["circles"] == [], f"import circles: {measured['circles']}"
    for edge in measured["typing_only_back_references"]:
        a, _, b = edge.partition(" -> ")
        assert a.rpartition(".")[0] == b.rpartition(".")[0], f"annotation up a chain: {edge}"


def test_no_import_runs_against_the_layers() -> None:
    """Stage modules import only downwards (scripts/import_graph.py's LAYERS), and every
    module of the package has a layer."""
    ig = _import_graph()
    measured = ig.measure(ROOT)
    assert measured["upward_imports"] == []
    unlayered = [m for m in ig.graph(ROOT) if ig.layer(m) == len(ig.LAYERS)]
    assert unlayered == [], f"modules with no layer in scripts/import_graph.py: {unlayered}"


def test_the_circle_check_sees_a_circle(tmp_path: Path) -> None:
    """The measure finds a run-time circle, and tells an annotation-only one apart."""
    pkg = tmp_path / "siting"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from siting import b\n")
    (pkg / "b.py").write_text("def f():\n    from siting.a import x\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from siting.d import y\n"
    )
    (pkg / "d.py").write_text("import siting.c\n")
    measured = _import_graph().measure(tmp_path)
    assert measured["circles"] == [["siting.a", "siting.b"]]
    assert measured["typing_only_back_references"] == ["siting.c -> siting.d"]


def test_the_solver_library_imports_no_layer_above_it() -> None:
    measured = _import_graph().measure(ROOT)
    assert measured["solver_library_imports_of_the_run"] == []
