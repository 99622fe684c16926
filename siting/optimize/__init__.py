"""Stage 5 — choose station sites with integer programs (PuLP; HiGHS or CBC).

A solver library that knows nothing of the run. Models are classes built with
``cls(...)`` from a sparse neighbour structure, with classmethod constructors from a
cost matrix (dense or sparse), from drive times (any
:class:`~siting.optimize._types.DriveTimes`, such as a run's
:class:`siting.travel.TravelTimes`), or from GeoDataFrames; ``solve()`` returns a
:class:`SolveResult` whose status never claims an optimum the solver did not
prove. One module per model:

- :mod:`~siting.optimize.covering.model`: :class:`MaximalCovering`;
- :mod:`~siting.optimize.pmedian.model`: :class:`PMedian`;
- :mod:`~siting.optimize.capacitated.model`: :class:`CapacitatedCoverage`;
- :mod:`~siting.optimize.minimum.model`: :class:`MinimumPlan` (how many stations a target takes);
- :mod:`~siting.optimize.futures.staged`: :class:`StagedPlan` (stations added year by year);

what a run asks for is turned into these models outside the library, by
:class:`siting.request.Request` (which also maps ``optimize.model`` to its builder);

and the shared parts: :mod:`~siting.optimize.result` (:class:`SolveResult`),
:mod:`~siting.optimize._side` (spacing, equity and budget rows),
:mod:`~siting.optimize.nested` (nested plans) and :mod:`~siting.optimize._common`
(rows, checks and assignments). The solver adapter is :mod:`siting.optimize._solvers`; the
heuristics and Lagrangian bounds are :mod:`siting.optimize.pmedian._heuristics`,
:mod:`siting.optimize.covering._heuristics` and :mod:`siting.optimize.pmedian._lagrangian`.
"""

from siting.optimize._side import close_pairs
from siting.optimize._types import DriveTimes
from siting.optimize.capacitated.model import CapacitatedCoverage
from siting.optimize.covering.model import MaximalCovering
from siting.optimize.futures.staged import StagedPlan, StagedResult, stage_regret
from siting.optimize.minimum.model import MinimumPlan
from siting.optimize.nested import Phase, phased_plan
from siting.optimize.options import SolveOptions
from siting.optimize.pmedian.model import PMedian
from siting.optimize.result import SolveResult

__all__ = [
    "CapacitatedCoverage",
    "DriveTimes",
    "MaximalCovering",
    "MinimumPlan",
    "PMedian",
    "Phase",
    "SolveOptions",
    "SolveResult",
    "StagedPlan",
    "StagedResult",
    "close_pairs",
    "phased_plan",
    "stage_regret",
]
