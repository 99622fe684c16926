"""Private: solving the maximal covering model (:class:`~siting.optimize.MaximalCovering`).

:func:`solve_reduced` is used when the model has no side constraints: the existing
sites' cover becomes a constant, points with the same reach share a row, a greedy
and swap plan and a Lagrangian bound (:mod:`~siting.optimize.covering._heuristics`)
fix sites open or closed, and the integer program decides only what is left. With HiGHS and at
least :data:`siting.settings.COVER_BENDERS_MIN_PAIRS` pairs in reach,
:func:`solve_benders` (:mod:`~siting.optimize.covering._benders`) does it instead.
:func:`tie_break` is the second stage (least access time among the plans of maximal
coverage); its rows are in :mod:`siting.optimize.covering._rows`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from siting import settings
from siting._clock import time_left
from siting.errors import InfeasibleError
from siting.optimize import _solvers
from siting.optimize._rows import cover_rows as _cover_rows
from siting.optimize.covering import _benders, _heuristics

if TYPE_CHECKING:
    from siting.optimize.covering.model import MaximalCovering
    from siting.optimize.options import SolveOptions

log = logging.getLogger(__name__)


@dataclass
class _Reduction:
    """What the heuristics and the Lagrangian bound settle before the MIP."""

    plan: np.ndarray
    lower: float
    upper: float
    must_open: np.ndarray
    must_close: np.ndarray
    eps: float
    report: dict[str, Any]


def _reduce(model: MaximalCovering, time_limit: float | None) -> _Reduction:
    """Exact reductions, greedy and swap plan, Lagrangian bound and the sites its
    reduced costs fix open or closed (all measured with the existing sites' cover
    as a constant)."""
    t0 = time.perf_counter()
    nb = model.neighbours
    n_s = nb.shape[1]
    rows, row_w, by_fixed = _cover_rows(nb, model.weights, model.fixed, None)
    constant = float(model.weights[by_fixed].sum())
    sub = nb[rows]
    w = row_w[rows]
    budget_s = 0.25 * time_limit if time_limit else 30.0
    plan = _heuristics.swap(sub, w, model.greedy(), model.fixed, time_limit=budget_s)
    is_open = np.zeros(n_s, dtype=bool)
    is_open[plan] = True
    incumbent = _heuristics.coverage(sub, w, is_open)
    free = np.ones(n_s, dtype=bool)
    free[model.fixed] = False
    n_free = model.p - len(model.fixed)
    bound = _heuristics.lagrangian_bound(sub, w, n_free, free, incumbent, time_limit=budget_s)
    eps = 1e-7 * max(1.0, incumbent)
    must_open, must_close = _heuristics.fix_sites(bound, free, n_free, incumbent - eps)
    heuristic_s = time.perf_counter() - t0
    upper = constant + bound.value
    lower = constant + incumbent
    report: dict[str, Any] = {
        "heuristic_objective": lower,
        "bound": upper,
        "iterations": bound.iterations,
        "sites_opened_for_good": int(must_open.sum()),
        "sites_closed_for_good": int(must_close.sum()),
        "seconds": round(heuristic_s, 3),
    }
    log.info(
        "mclp: swap plan %.6g, Lagrangian bound %.6g (%d steps), %d sites fixed open, "
        "%d closed, %.2f s",
        lower,
        upper,
        bound.iterations,
        must_open.sum(),
        must_close.sum(),
        heuristic_s,
    )
    return _Reduction(plan, lower, upper, must_open, must_close, eps, report)


def solve_benders(
    model: MaximalCovering, options: SolveOptions
) -> tuple[_solvers.SolveInfo, np.ndarray, float, dict[str, Any]]:
    """The model by Benders decomposition from its greedy plan (no side constraints).

    Its master holds the sites and one variable per group of points, never a row
    per point, so its size does not grow with the demand points.
    """
    t0 = time.perf_counter()
    time_limit, tol = options.time_limit, options.gap
    clients = _benders.Clients.from_neighbours(
        model.neighbours, model.weights, model.fixed, costs=model.pair_times
    )
    start = _heuristics.greedy(clients.nb, clients.w, model.fixed, model.p)
    build_s = time.perf_counter() - t0
    # the decomposition stops early enough for the model to assign every point
    reserve = settings.COVER_RESULT_SHARE * (time_limit or 0.0)
    left = None if time_limit is None else max(0.05, time_limit - reserve - build_s)
    res = _benders.solve(clients, model.p, model.fixed, start, options.but(time_limit=left))
    report = {
        "method": "benders",
        "groups": clients.n_groups,
        "lp_bound": res.lp_bound,
        "lp_rounds": res.lp_rounds,
        "integer_rounds": res.mip_rounds,
        "cuts": res.cuts,
        "sites_fixed": res.sites_fixed,
        "sites_dominated": res.sites_dominated,
        "seconds": round(res.seconds, 3),
    }
    log.info(
        "mclp: Benders, %d groups, plan %.6g, bound %.6g, %s, %.2f s",
        clients.n_groups,
        res.value,
        res.bound,
        res.status,
        res.seconds,
    )
    info = _solvers.SolveInfo(
        res.status,
        res.value,
        res.bound,
        _solvers.relative_gap(res.value, res.bound),
        "highs",
        res.seconds,
        tol,
        res.stopped_by,
    )
    return info, res.selected, build_s, report


def use_benders(model: MaximalCovering, solver: str | None) -> bool:
    """Whether :func:`solve_benders` takes the model: HiGHS, no side constraints and
    at least :data:`siting.settings.COVER_BENDERS_MIN_PAIRS` pairs in reach."""
    name = (solver or "highs").lower()
    return name == "highs" and model.neighbours.nnz >= settings.COVER_BENDERS_MIN_PAIRS


def solve_reduced(
    model: MaximalCovering, options: SolveOptions
) -> tuple[_solvers.SolveInfo, np.ndarray, float, dict[str, Any]]:
    """Greedy and swap plan, Lagrangian bound, site fixing, then the MIP on what is left.

    The reported bound is the smaller of the Lagrangian bound and the MIP's
    bound on the reduced problem (or the plan's value, if higher): the fixings
    only exclude plans no better than the swap plan.
    """
    t0 = time.perf_counter()
    time_limit, tol = options.time_limit, options.gap
    red = _reduce(model, time_limit)
    plan, lower, upper, report = red.plan, red.lower, red.upper, red.report
    must_open, must_close, eps = red.must_open, red.must_close, red.eps
    heuristic_s = time.perf_counter() - t0
    nb = model.neighbours
    if _solvers.relative_gap(lower, upper) <= tol:  # type: ignore[operator]
        info = _solvers.SolveInfo(
            "optimal",
            lower,
            upper,
            _solvers.relative_gap(lower, upper),
            "lagrangian",
            heuristic_s,
            tol,
            None,
        )
        return info, plan, heuristic_s, report
    # the MIP on the sites still undecided: closed ones lose their columns
    keep = np.flatnonzero(~must_close)
    cols = sp.csr_array(nb[:, keep])
    restricted = type(model)(
        sp.csr_array((cols.data, keep[cols.indices], cols.indptr), shape=nb.shape),
        model.weights,
        model.p,
        fixed=np.union1d(model.fixed, np.flatnonzero(must_open)),
    )
    prob, y = restricted.build(start=plan)
    for j in np.flatnonzero(must_close).tolist():
        y[j].upBound = 0
    build_s = time.perf_counter() - t0
    left = time_left(time_limit, build_s)
    info = _solvers.run(prob, options.but(time_limit=left))
    if info.status == "infeasible":
        raise InfeasibleError(model.explain_infeasible(f"maximal covering (p={model.p})"))
    selected = np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))
    objective = info.objective
    if lower > objective + eps:  # the solver lost the warm start: keep the swap plan
        objective, selected = lower, plan
    mip_bound = info.bound if info.bound is not None else np.inf
    best_bound = min(upper, max(mip_bound, lower))
    g = _solvers.relative_gap(objective, best_bound)
    # proven on the reduced problem, whose fixings only exclude plans no better
    # than the swap plan it was started from: proven for the whole problem
    proven = info.status == "optimal" or (g is not None and g <= tol + 1e-9)
    status = "optimal" if proven else "feasible"
    report["mip_bound"] = info.bound
    info = _solvers.SolveInfo(
        status,
        objective,
        best_bound,
        g,
        info.solver,
        time.perf_counter() - t0 - build_s,
        tol,
        None if status == "optimal" else info.stopped_by,
    )
    return info, selected, build_s, report


def first_stage(
    model: MaximalCovering, options: SolveOptions
) -> tuple[_solvers.SolveInfo, np.ndarray, float, dict[str, Any]]:
    """The plan of maximal coverage: by Benders decomposition or the reductions when
    the model has no side constraints (:func:`use_benders`), else the whole integer
    program. Returns the solver's report, the plan, the build time and ``extra``."""
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if model.plain() and use_benders(model, options.solver):
        info, selected, build_s, extra["benders"] = solve_benders(model, options)
        return info, selected, build_s, extra
    if model.plain():
        info, selected, build_s, extra["lagrangian"] = solve_reduced(model, options)
        return info, selected, build_s, extra
    if use_benders(model, options.solver):
        log.info(
            "mclp: spacing, equity or budget rows rule out the Benders decomposition "
            "and the Lagrangian reductions; the whole integer program instead"
        )
    start = model.greedy()
    prob, y = model.build(start=start)
    build_s = time.perf_counter() - t0
    info = _solvers.run(prob, options)
    if info.status == "infeasible":
        raise InfeasibleError(model.explain_infeasible(f"maximal covering (p={model.p})"))
    selected = np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))
    return info, selected, build_s, extra


def second_stage(
    model: MaximalCovering,
    info: _solvers.SolveInfo,
    selected: np.ndarray,
    options: SolveOptions,
    extra: dict[str, Any],
) -> tuple[np.ndarray, _solvers.SolveInfo, float, str | None]:
    """The tie-break stage (:func:`tie_break`) applied to the first stage's plan.

    Returns the plan (the first stage's when the tie-break found none), the report
    with both stages' seconds, the stage's build time and, when the stage was not
    proven, why (``extra["tie_break"]`` gets its figures).
    """
    plan2, info2, stage2_s = tie_break(model, info, selected, options)
    if plan2 is None:
        return selected, info, stage2_s, None
    extra["tie_break"] = tie_break_report(info2)
    stopped = None if info2.status == "optimal" else f"tie-break stage: {info2.stopped_by}"
    info = _solvers.SolveInfo(**{**info.__dict__, "seconds": info.seconds + info2.seconds})
    return plan2, info, stage2_s, stopped


def tie_break(
    model: MaximalCovering,
    info: _solvers.SolveInfo,
    selected: np.ndarray,
    options: SolveOptions,
) -> tuple[np.ndarray | None, _solvers.SolveInfo, float]:
    """The lexicographic second stage: keep the coverage of ``info``'s plan and
    minimise the demand-weighted access time, from ``selected``.

    Returns the new plan (None when the stage found none), the stage's report
    and its build time.
    """
    floor = info.objective - 1e-7 * max(1.0, abs(info.objective))
    remaining = time_left(options.time_limit, info.seconds)
    t1 = time.perf_counter()
    prob2, y2 = model.build(min_coverage=floor, start=selected)
    build_s = time.perf_counter() - t1
    info2 = _solvers.run(prob2, options.but(time_limit=remaining))
    if info2.status == "infeasible":
        return None, info2, build_s
    return np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y2])), info2, build_s


def tie_break_report(info2: _solvers.SolveInfo) -> dict[str, Any]:
    """The second stage's figures for ``extra["tie_break"]``."""
    return {
        "objective": "demand-weighted access time (s)",
        "value": info2.objective,
        "bound": info2.bound,
        "gap": info2.gap,
        "status": info2.status,
        "solve_s": round(info2.seconds, 3),
    }
