"""The solver library: where to build stations, as integer programs (PuLP; HiGHS or CBC).

It knows nothing of a run (no scenario, sections, demand or run containers); what a
run asks for is turned into these models outside it, by
:class:`siting.request.Request`. Models are classes built with ``cls(...)`` from a
sparse neighbour structure, with classmethod constructors from a cost matrix (dense or
sparse), from drive times (any :class:`~siting.optimize._types.DriveTimes`, such as a
run's :class:`siting.travel.TravelTimes`), or from GeoDataFrames; ``solve()`` takes a
solver's name or a :class:`SolveOptions` and returns a :class:`SolveResult` whose
status never claims an optimum the solver did not prove. One folder per model family,
holding its model (``model.py``), rows, engines, bounds and searches:

- :mod:`~siting.optimize.covering`: :class:`MaximalCovering` (Benders engine, greedy,
  swap and perturbation searches, Lagrangian bound);
- :mod:`~siting.optimize.pmedian`: :class:`PMedian` (Lagrangian bound and
  branch-and-bound, Benders engine, compiled kernels);
- :mod:`~siting.optimize.capacitated`: :class:`CapacitatedCoverage` (direct, merged and
  large-instance solves, transport flow, greedy);
- :mod:`~siting.optimize.minimum`: :class:`MinimumPlan` (how many stations a target takes);
- :mod:`~siting.optimize.futures`: :class:`StagedPlan` (stations added stage by stage)
  and :class:`~siting.optimize.futures.RobustPlan` (one plan across demand futures);

and the shared parts, one private module each: the HiGHS/CBC adapter
(:mod:`~siting.optimize._solvers`, ``_cbc.py``, ``_report.py``), the HiGHS master and
the one Benders loop (``_master.py``, ``_benders.py``), row helpers (``_rows.py``,
``_common.py``), spacing, equity and budget rows (``_side.py``), argument checks
(``_checks.py``); and :mod:`~siting.optimize.nested` (nested plans),
:mod:`~siting.optimize.options`, :mod:`~siting.optimize.result`.
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
