"""Private: the p-median solved exactly in steps (:class:`~siting.optimize.PMedian`).

:func:`heuristic` gives the first incumbent (greedy and swap);
:func:`lagrangian_steps` is the subgradient Lagrangian bound (Beasley 1993), the
sites its reduced costs close or open, and, with few sites left to choose, the
Lagrangian branch-and-bound (:mod:`siting.optimize.pmedian._lagrangian`); :func:`solve_reduced`
is the radius formulation on the sites left (by Benders decomposition with HiGHS,
:mod:`siting.optimize.pmedian._benders`; the chain integer program with CBC); :func:`read_result`
turns the incumbent and the best bound into an honest :class:`SolveResult`;
:func:`solve_side` is the integer program with side constraints, which the
Lagrangian steps do not know.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from siting import settings
from siting._clock import time_left
from siting._invariants import present
from siting.errors import InfeasibleError
from siting.optimize import _solvers
from siting.optimize._common import _assign, _site_load
from siting.optimize.pmedian import _benders, _heuristics, _lagrangian
from siting.optimize.result import SolveResult

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from siting.optimize.options import SolveOptions
    from siting.optimize.pmedian.model import PMedian


def pruning_of(model: PMedian, tol: float) -> _lagrangian.Pruning:
    """How the Lagrangian tests prune: integral data allow rounding the bound up."""
    integral = bool(
        np.all(model.weights == np.round(model.weights))
        and np.all(model.data == np.round(model.data))
        and (model.unserved_cost is None or float(model.unserved_cost).is_integer())
    )
    return _lagrangian.Pruning(integral=integral, gap=tol)


def heuristic(
    model: PMedian, D: np.ndarray, deadline: float = np.inf, costs: _lagrangian.Costs | None = None
) -> np.ndarray:
    """Step 1 of :meth:`PMedian.solve`: greedy construction and swap improvement
    (``costs``: the row-sorted ``w * D``, if the caller holds them)."""
    start = _heuristics.pmedian_greedy(D, model.weights, model.p, model.fixed)
    return _heuristics.pmedian_swap(
        D, model.weights, start, model.fixed, deadline=deadline, costs=costs
    )


def serves_everyone(model: PMedian, sites: np.ndarray) -> bool:
    """Whether every weighted point has an allowed site in ``sites`` (or may go unserved)."""
    if model.unserved_cost is not None:
        return True
    is_open = np.zeros(model.shape[1], dtype=bool)
    is_open[sites] = True
    rows = np.repeat(np.arange(model.shape[0]), np.diff(model.indptr))
    served = np.zeros(model.shape[0], dtype=bool)
    served[rows[is_open[model.indices]]] = True
    return bool(served[model.weights > 0].all())


def lagrangian_steps(
    model: PMedian,
    D: np.ndarray,
    costs: _lagrangian.Costs,
    incumbent: np.ndarray,
    cost: float,
    tol: float,
    deadline: float,
    extra: dict[str, Any],
) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray, bool]:
    """Steps 2 and 3 of :meth:`PMedian.solve`: (incumbent, cost, bound, must, allowed, proven).

    ``costs`` are the row-sorted weighted costs ``w * D``.
    """
    w, p = model.weights, model.p
    pruning = pruning_of(model, tol)
    WD = costs.WD
    n_s = model.shape[1]
    must = np.zeros(n_s, dtype=bool)
    must[model.fixed] = True
    allowed = np.ones(n_s, dtype=bool)
    found = _lagrangian.subgradient(
        costs,
        p,
        must,
        allowed,
        _lagrangian.start_multipliers(WD),
        cost,
        pruning.threshold(cost),
        max_iter=settings.PMEDIAN_ROOT_ITERATIONS,
        deadline=deadline,
    )
    root = present(found, "the root bound of a feasible p (checked in __init__)")
    relaxed = _heuristics.pmedian_swap(
        D, w, np.sort(root.selection), model.fixed, deadline=deadline, costs=costs
    )
    relaxed_cost = _heuristics.pmedian_cost(D, w, relaxed)
    if relaxed_cost < cost and serves_everyone(model, relaxed):
        incumbent, cost = relaxed, relaxed_cost
    bound = pruning.tighten(root.value)
    extra.update(lagrangian_bound=root.value, lagrangian_iterations=root.iterations)
    if root.value > pruning.threshold(cost):
        return incumbent, cost, min(bound, cost), must, allowed, True
    must, allowed = _lagrangian.fix_sites(
        costs, root.multipliers, p, must, allowed, pruning.threshold(cost)
    )
    extra.update(sites_closed=int((~allowed).sum()), sites_opened=int(must.sum()))
    k = p - int(must.sum())
    free = int((allowed & ~must).sum())
    few = k <= max(settings.PMEDIAN_SEARCH_MAX_SITES, settings.PMEDIAN_SEARCH_SHARE * free)
    # with fractional data and no gap tolerance too (pruned within 1e-9 relative): on
    # the 500 x 100, p = 20 instance of the spopt benchmark, 900 nodes in 0.7 s where
    # the reduced MIP took 4.4 s
    if not few or time.perf_counter() >= deadline:
        return incumbent, cost, bound, must, allowed, False
    remaining = deadline - time.perf_counter()
    keep = np.flatnonzero(allowed)  # search on the sites left only
    search = _lagrangian.branch_and_bound(
        D[:, keep],
        w,
        p,
        must[keep],
        np.ones(len(keep), dtype=bool),
        root.multipliers,
        np.empty(0, dtype=np.int64),  # the incumbent may use a closed site
        cost,
        pruning,
        max_nodes=settings.PMEDIAN_SEARCH_NODES,
        deadline=time.perf_counter() + min(remaining / 2, 300.0),
    )
    if search.cost < cost:
        incumbent, cost = keep[search.incumbent], search.cost
    extra.update(search_nodes=search.nodes, search_complete=search.complete)
    if search.complete:
        return incumbent, cost, search.bound, must, allowed, True
    return incumbent, cost, max(bound, search.bound), must, allowed, False


def solve_reduced(
    model: PMedian,
    options: SolveOptions,
    incumbent: np.ndarray,
    cost: float,
    bound: float,
    must: np.ndarray,
    allowed: np.ndarray,
    *,
    t0: float,
    deadline: float,
    extra: dict[str, Any],
) -> SolveResult:
    """Step 4 of :meth:`PMedian.solve`: the integer program on the sites left."""
    # one step, kept whole (~85 lines): its exits (nothing left, time up, Benders or
    # the chain program) each report with the same incumbent, bound and floor
    name, tol = options.solver, options.gap
    # plans the Lagrangian tests excluded cost at least `floor` (none were excluded
    # if those tests did not run)
    floor = pruning_of(model, tol).floor(cost) if np.isfinite(bound) else np.inf
    keep = np.flatnonzero(allowed)
    remap = np.full(model.shape[1], -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    pair = allowed[model.indices]
    rows = np.repeat(np.arange(model.shape[0]), np.diff(model.indptr))
    counts = np.bincount(rows[pair], minlength=model.shape[0])
    sub_indptr = np.concatenate([[0], np.cumsum(counts)])
    sub = sp.csr_array(
        (model.data[pair], remap[model.indices[pair]], sub_indptr),
        shape=(model.shape[0], len(keep)),
    )
    needy = (np.diff(sub_indptr) == 0) & (model.weights > 0)
    if len(keep) < model.p or (model.unserved_cost is None and needy.any()):
        # no plan left that could beat the incumbent
        return read_result(
            model, "lagrangian", incumbent, cost, max(bound, floor), tol, t0, None, extra
        )
    if time.perf_counter() >= deadline:
        return read_result(
            model, "lagrangian", incumbent, cost, bound, tol, t0, "time limit", extra
        )
    reduced = type(model)(
        sub,
        model.weights,
        model.p,
        fixed=remap[np.flatnonzero(must)],
        unserved_cost=model.unserved_cost,
    )
    start = remap[incumbent] if (remap[incumbent] >= 0).all() else reduced.heuristic()
    if name == "highs":  # the Benders decomposition of the same radius formulation
        return _benders_reduced(
            model,
            reduced,
            keep,
            start,
            incumbent,
            cost,
            bound,
            floor,
            options,
            t0=t0,
            deadline=deadline,
            extra=extra,
        )
    log.info("pmedian: with %s, the chain radius program on the sites left (no Benders)", name)
    prob, y = reduced.build(start=start)
    extra["chain_levels"] = int(reduced.levels_total.sum())
    remaining = deadline - time.perf_counter() if np.isfinite(deadline) else None
    info = _solvers.run(
        prob, options.but(time_limit=max(remaining, 1.0) if remaining is not None else None)
    )
    if info.status == "infeasible":
        return read_result(
            model, "lagrangian", incumbent, cost, max(bound, floor), tol, t0, None, extra
        )
    chosen = keep[np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))]
    if len(chosen) != model.p:
        raise InfeasibleError(f"solver returned {len(chosen)} sites, expected p={model.p}")
    chosen_cost = _heuristics.pmedian_cost(model.dense_costs(), model.weights, chosen)
    if chosen_cost < cost:
        incumbent, cost = chosen, chosen_cost
    mip_bound = min(info.bound, floor) if info.bound is not None else None
    if mip_bound is not None:
        bound = max(bound, mip_bound)
    stopped = None if info.status == "optimal" else (info.stopped_by or "stopped")
    return read_result(model, name, incumbent, cost, bound, tol, t0, stopped, extra)


def read_result(
    model: PMedian,
    solver: str,
    selected: np.ndarray,
    cost: float,
    bound: float,
    tol: float,
    t0: float,
    stopped_by: str | None,
    extra: dict[str, Any],
) -> SolveResult:
    """The plan, its cost and the best proven bound as a result: optimal only when
    no step stopped early and the gap is within ``tol``."""
    bound_or_none = float(bound) if np.isfinite(bound) else None
    gap_val = _solvers.relative_gap(cost, bound_or_none)
    # 1e-9: the relative float tolerance the Lagrangian tests prune with
    proven = stopped_by is None and gap_val is not None and gap_val <= tol + 1.5e-9
    extra["recomputed_objective"] = cost
    chosen = np.sort(np.asarray(selected, dtype=np.int64))
    assignment = _assign(model.indptr, model.indices, model.data, model.shape[0], chosen)
    extra["assignment"] = assignment
    extra["load"] = _site_load(assignment, model.weights, len(chosen))
    seconds = time.perf_counter() - t0
    return SolveResult(
        model=model.name,
        selected=np.sort(np.asarray(selected, dtype=np.int64)),
        objective=cost,
        bound=bound_or_none,
        gap=gap_val,
        status="optimal" if proven else "feasible",
        solver=solver,
        solve_s=seconds,
        build_s=0.0,
        gap_tolerance=tol,
        stopped_by=None if proven else (stopped_by or "gap above tolerance"),
        extra=extra,
    )


def solve_side(
    model: PMedian,
    options: SolveOptions,
    start: np.ndarray,
    *,
    t0: float,
    extra: dict[str, Any],
) -> SolveResult:
    """The integer program with its side constraints, warm-started where the start fits."""
    name, tol = options.solver, options.gap
    fits = len(model.spacing_pairs) == 0 or not np.isin(model.spacing_pairs, start).all(1).any()
    if model.site_cost is not None and model.budget is not None:
        fits = fits and float(model.site_cost[start].sum()) <= model.budget
    prob, y = model.build(start=start if fits else None)
    remaining = time_left(options.time_limit, time.perf_counter() - t0)
    info = _solvers.run(prob, options.but(time_limit=remaining))
    if info.status == "infeasible":
        raise InfeasibleError(model.explain_infeasible(f"p-median (p={model.p})"))
    selected = np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))
    if model.site_cost is not None:
        extra["cost"] = float(model.site_cost[selected].sum())
    elif len(selected) != model.p:
        raise InfeasibleError(f"solver returned {len(selected)} sites, expected p={model.p}")
    cost = _heuristics.pmedian_cost(model.dense_costs(), model.weights, selected)
    bound = info.bound if info.bound is not None else -np.inf
    stopped = None if info.status == "optimal" else (info.stopped_by or "stopped")
    return read_result(model, name, selected, cost, bound, tol, t0, stopped, extra)


def _benders_reduced(
    model: PMedian,
    reduced: PMedian,
    keep: np.ndarray,
    start: np.ndarray,
    incumbent: np.ndarray,
    cost: float,
    bound: float,
    floor: float,
    options: SolveOptions,
    *,
    t0: float,
    deadline: float,
    extra: dict[str, Any],
) -> SolveResult:
    """Step 4 by Benders decomposition (:mod:`siting.optimize.pmedian._benders`) on the sites left.

    Its bound holds for the plans on those sites; the plans the Lagrangian tests
    excluded cost at least ``floor``, so the bound reported is the smaller.
    """
    rows = _benders.Rows.from_csr(
        reduced.indptr,
        reduced.indices,
        reduced.data,
        reduced.weights,
        reduced.shape[1],
        reduced.unserved_cost,
    )
    remaining = deadline - time.perf_counter() if np.isfinite(deadline) else None
    res = _benders.solve(rows, reduced.p, reduced.fixed, start, options.but(time_limit=remaining))
    extra["benders"] = {
        "lp_bound": res.lp_bound,
        "lp_rounds": res.lp_rounds,
        "integer_rounds": res.mip_rounds,
        "cuts": res.cuts,
        "sites_fixed": res.sites_fixed,
    }
    if res.cost < cost:
        incumbent, cost = keep[res.selected], res.cost
    if np.isfinite(res.bound):
        bound = max(bound, min(res.bound, floor))
    stopped = None if res.status == "optimal" else res.stopped_by
    return read_result(model, "highs", incumbent, cost, bound, options.gap, t0, stopped, extra)
