"""The package face: the notebook API from ``import siting``, imported lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import siting


def test_notebook_api_is_exported_from_the_package() -> None:
    from siting import compare, optimize, pipeline, scenario

    assert siting.plan is pipeline.plan and siting.prepare is pipeline.prepare
    assert siting.load_scenario is scenario.load_scenario
    assert siting.compare_runs is compare.compare_runs
    assert siting.CapacitatedCoverage is optimize.CapacitatedCoverage
    assert siting.MinimumPlan is optimize.MinimumPlan
    assert set(siting.__all__) == {"__version__", *siting._EXPORTS}
    assert set(siting.__all__) <= set(dir(siting))
    with pytest.raises(AttributeError, match="no attribute 'plann'"):
        siting.plann  # noqa: B018 (the attribute access is the test)


def test_import_siting_stays_light() -> None:
    """``import siting`` loads none of the heavy stages (solvers, geopandas, osmnx)."""
    code = (
        "import sys, siting; "
        "print(sorted(m for m in ('siting.pipeline', 'pulp', 'geopandas', 'osmnx') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_error_classes_are_public() -> None:
    """The error hierarchy is importable from the package face, each with its built-in."""
    from siting import (
        DataFileError,
        InfeasibleError,
        InputError,
        MissingFileError,
        NetworkError,
        ScenarioError,
        SitingError,
        SolverError,
        TimeLimitError,
        errors,
    )

    classes = {
        "SitingError": SitingError,
        "InputError": InputError,
        "ScenarioError": ScenarioError,
        "DataFileError": DataFileError,
        "MissingFileError": MissingFileError,
        "InfeasibleError": InfeasibleError,
        "NetworkError": NetworkError,
        "SolverError": SolverError,
        "TimeLimitError": TimeLimitError,
    }
    for name, cls in classes.items():
        assert cls is getattr(errors, name), name
        assert name in siting.__all__, name
        assert issubclass(cls, SitingError), name
    builtins = {
        InputError: ValueError,
        ScenarioError: ValueError,
        DataFileError: ValueError,
        MissingFileError: FileNotFoundError,
        InfeasibleError: ValueError,
        NetworkError: ConnectionError,
        SolverError: RuntimeError,
        TimeLimitError: RuntimeError,
    }
    for cls, builtin in builtins.items():
        assert issubclass(cls, builtin), cls.__name__
    assert issubclass(MissingFileError, InputError)
    assert issubclass(NetworkError, InputError)
    assert issubclass(TimeLimitError, InputError)  # reported like bad input (exit code 2)
    assert not issubclass(SolverError, InputError)
    with pytest.raises(ValueError, match="bad p"):
        raise InputError("bad p")


def test_library_code_has_no_assert() -> None:
    """No ``assert`` steers library code: ``python -O`` would drop it."""
    import ast
    from pathlib import Path

    root = Path(siting.__file__).parent
    found = [
        f"{path.relative_to(root)}:{node.lineno}"
        for path in sorted(root.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


def test_internal_checks_and_caller_mistakes_raise() -> None:
    """A value only a bug leaves out is a RuntimeError; a caller's omission an InputError."""
    from siting._invariants import present
    from siting.futures.robust import future_list
    from siting.scenario import load_scenario
    from siting.settings import DEFAULT_SCENARIO

    assert present(0, "zero") == 0
    with pytest.raises(RuntimeError, match=r"internal error: model\.costs is missing"):
        present(None, "model.costs")
    sc = load_scenario(DEFAULT_SCENARIO)
    assert sc.futures is None
    with pytest.raises(siting.InputError, match=r"sc: future_list needs .*\[futures\]"):
        future_list(sc)
