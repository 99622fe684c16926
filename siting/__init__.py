"""siting: plan where to build EV charging stations in a city.

The notebook API, imported on first use so that ``import siting`` stays fast::

    import siting

    sc = siting.load_scenario("data/almaty.toml").with_overrides({"optimize.p": 200})
    inputs = siting.prepare(sc)              # road graph, demand layers, candidates, times
    result = siting.plan(sc, inputs=inputs)  # everything in memory (RunResult)
    siting.run(sc, "out/almaty")             # the same, written to a folder
    table = siting.compare_runs([siting.load_run("out/a"), siting.load_run("out/b")])

The models (``CapacitatedCoverage``, ``MaximalCovering``, ``PMedian``,
``MinimumPlan``) solve matrices of your own too (``from_cost_matrix``).

The errors siting raises on purpose (``siting.errors``) are exported here too::

    try:
        siting.plan(sc)
    except siting.InfeasibleError as err:   # a ValueError: the request cannot be met
        print(err)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from siting._version import __version__

#: Public name -> the module that defines it.
_EXPORTS = {
    "Scenario": "siting.scenario",
    "load_scenario": "siting.scenario",
    "parse_overrides": "siting.scenario",
    "Inputs": "siting.results",
    "RunResult": "siting.results",
    "prepare": "siting.pipeline",
    "plan": "siting.pipeline",
    "run": "siting.pipeline",
    "RunOutputs": "siting.compare",
    "load_run": "siting.compare",
    "compare_runs": "siting.compare",
    "write_comparison": "siting.compare",
    "CapacitatedCoverage": "siting.optimize",
    "MaximalCovering": "siting.optimize",
    "PMedian": "siting.optimize",
    "SolveOptions": "siting.optimize",
    "SolveResult": "siting.optimize",
    "MinimumPlan": "siting.optimize",
    "StagedPlan": "siting.optimize",
    "SitingError": "siting.errors",
    "InputError": "siting.errors",
    "ScenarioError": "siting.errors",
    "DataFileError": "siting.errors",
    "MissingFileError": "siting.errors",
    "InfeasibleError": "siting.errors",
    "NetworkError": "siting.errors",
    "SolverError": "siting.errors",
    "TimeLimitError": "siting.errors",
}

__all__ = [
    "CapacitatedCoverage",
    "DataFileError",
    "InfeasibleError",
    "InputError",
    "Inputs",
    "MaximalCovering",
    "MinimumPlan",
    "MissingFileError",
    "NetworkError",
    "PMedian",
    "RunOutputs",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SitingError",
    "SolveOptions",
    "SolveResult",
    "SolverError",
    "StagedPlan",
    "TimeLimitError",
    "__version__",
    "compare_runs",
    "load_run",
    "load_scenario",
    "parse_overrides",
    "plan",
    "prepare",
    "run",
    "write_comparison",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used (PEP 562)."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'siting' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # for type checkers and editors; nothing is imported at run time
    from siting.compare import RunOutputs, compare_runs, load_run, write_comparison
    from siting.errors import (
        DataFileError,
        InfeasibleError,
        InputError,
        MissingFileError,
        NetworkError,
        ScenarioError,
        SitingError,
        SolverError,
        TimeLimitError,
    )
    from siting.optimize import (
        CapacitatedCoverage,
        MaximalCovering,
        MinimumPlan,
        PMedian,
        SolveOptions,
        SolveResult,
        StagedPlan,
    )
    from siting.pipeline import plan, prepare, run
    from siting.results import Inputs, RunResult
    from siting.scenario import Scenario, load_scenario, parse_overrides
