"""Large capacitated instances (:meth:`CapacitatedCoverage.solve` beyond
``settings.CAPACITATED_DIRECT_PAIRS`` assignment pairs)."""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from siting import settings
from siting._clock import time_left
from siting.optimize import _solvers
from siting.optimize._rows import cover_rows as _cover_rows
from siting.optimize.capacitated import _flow
from siting.optimize.capacitated._merge import plan_figures, same_reach_rows, unmerged
from siting.optimize.covering import _heuristics as _cover
from siting.optimize.covering.model import MaximalCovering
from siting.optimize.result import SolveResult

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage
    from siting.optimize.options import SolveOptions

log = logging.getLogger(__name__)


def solve_large(model: CapacitatedCoverage, options: SolveOptions) -> SolveResult:
    """A large instance: merged rows, bounds over every candidate, MIP on the best.

    1. Points with the same sites in reach are merged (exact: shares of a merged
       point split back in proportion).
    2. Bounds that hold for every plan over all candidates: served demand is at
       most the sum, over the ``p`` best sites, of ``min(capacity, demand in
       reach)``; at most what the existing stations serve as a flow plus that sum
       over the new ones (:func:`siting.optimize.capacitated._flow.network_bound`); and, if
       the start below does not meet those, at most the demand covered
       (Lagrangian bound of the covering model, ``siting.optimize.covering._heuristics``).
    3. The start: the existing stations' flow, then new stations where most of
       the demand it leaves is in reach (:func:`siting.optimize.capacitated._flow.residual_plan`).
       When it serves the bound within the gap tolerance it is the plan, proven.
    4. Otherwise the integer program runs on a reduced candidate set (the start's,
       the greedy and covering plans' sites, the existing ones and the
       ``settings.CANDIDATES_PER_STATION * p`` sites of highest bound), warm
       started from the start. Its plan is feasible for
       the full problem; the gap is measured against the bound of step 2, so it is
       honest even though the reduced set might miss a better plan.
    """
    if model.secondary:
        # the secondary order needs the whole model, which at this size takes longer
        # to build than the time limit: the large path without it
        log.info(
            "capacitated: over %d assignment pairs: secondary order off, large-instance path",
            settings.CAPACITATED_DIRECT_PAIRS,
        )
        plain = copy.copy(model)
        plain.secondary = False
        res = solve_large(plain, options)
        res.extra["secondary"] = {
            "order": "off: the instance is above settings.CAPACITATED_DIRECT_PAIRS",
            "status": "not applied",
        }
        return res
    t0 = time.perf_counter()
    time_limit, tol = options.time_limit, options.gap
    n_s = model.neighbours.shape[1]
    live, rows, rep_of, dem = same_reach_rows(model)
    ac, dc = dem[0], dem[1]
    sub = sp.csr_array(model.neighbours[rows])
    w = ac + dc
    b = _bounds(model, sub, ac, dc, time_limit, tol)
    types, flow, start_gap = b.types, b.flow, b.start_gap
    # the integer program on the most promising candidates, from the flow's plan; on
    # the plan's sites alone (its types and assignment) when it meets the bound
    plan_sites = np.fromiter(sorted(types), dtype=np.int64)
    met = start_gap is not None and start_gap <= tol
    keep = (
        plan_sites
        if met
        else np.union1d(_promising(model, sub, ac, dc, b.value, b.cover_plan), plan_sites)
    )
    heuristic_s = time.perf_counter() - t0
    left = time_left(time_limit, heuristic_s)
    log.info(
        "capacitated: %d points merged into %d rows; bounds: capacity %.6g, network %.6g, "
        "coverage %.6g; the flow's plan serves %.6g; %s on %d of %d candidates "
        "(%.2f s so far)",
        int(live.sum()),
        len(rows),
        b.capacity,
        b.network,
        b.coverage,
        flow.served,
        "it meets the bound, no integer program" if met else "integer program",
        len(keep),
        n_s,
        heuristic_s,
    )
    if met:  # proven by the bound: the flow is the plan, no integer program
        res = _flow_result(model, keep, types, flow, len(rows), float(w.sum()), tol)
    else:
        start = _start_on(keep, types, flow, ac, dc)
        fixed = np.searchsorted(keep, model.fixed)
        res = _solve_restricted(
            model, sub, ac, dc, keep, fixed, options.but(time_limit=left), start=start
        )
    return _for_every_plan(model, res, keep, b, (live, rows, rep_of, dem), heuristic_s, tol)


@dataclass
class _Bounds:
    """Step 2 and 3 of :func:`solve_large`: the bounds over every plan and the start."""

    value: np.ndarray
    capacity: float
    network: float
    coverage: float
    upper: float
    types: dict[int, str]
    flow: _flow.Flow
    start_gap: float | None
    cover_plan: np.ndarray
    iterations: int


def _bounds(
    model: CapacitatedCoverage,
    sub: sp.csr_array,
    ac: np.ndarray,
    dc: np.ndarray,
    time_limit: float | None,
    tol: float,
) -> _Bounds:
    """The capacity and network bounds, the flow's plan and, when that plan does not
    meet them within ``tol``, the covering bound and plan (on the merged rows)."""
    n_s = sub.shape[1]
    w = ac + dc
    free = np.ones(n_s, dtype=bool)
    free[model.fixed] = False
    value, bound_capacity = _capacity_bound(model, sub, ac, w, free)
    n_free = model.p - len(model.fixed)
    strongest = max(model.capacity, key=lambda t: (model.capacity[t], t == "DC"))
    cap = model.capacity[strongest]
    # a hair above the LP's optimum: HiGHS solves it within its tolerances
    bound_network = _flow.network_bound(sub, w, model.fixed, free, n_free, cap) * (1 + 1e-7)
    bound_network += 1e-6
    types, flow = _flow.residual_plan(
        sub, ac, dc, model.fixed, [strongest] * len(model.fixed), free, n_free, model.capacity
    )
    upper = min(bound_capacity, bound_network)
    cover_plan, iterations, bound_coverage = np.empty(0, dtype=np.int64), 0, np.inf
    start_gap = _solvers.relative_gap(flow.served, upper)
    if start_gap is None or start_gap > tol:
        budget_s = 0.15 * time_limit if time_limit else 20.0
        cover_plan, lag, bound_coverage = _coverage_bound(model, sub, w, free, budget_s)
        upper, iterations = min(upper, bound_coverage), lag.iterations
    return _Bounds(
        value,
        bound_capacity,
        bound_network,
        bound_coverage,
        upper,
        types,
        flow,
        start_gap,
        cover_plan,
        iterations,
    )


def _for_every_plan(
    model: CapacitatedCoverage,
    res: SolveResult,
    keep: np.ndarray,
    b: _Bounds,
    merge: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    heuristic_s: float,
    tol: float,
) -> SolveResult:
    """Step 4's result ``res`` (on the ``keep`` candidates and the merged rows) as the
    whole instance's: its sites and figures back on the model's, its gap against the
    bounds ``b`` over every plan. ``merge`` is :func:`same_reach_rows`'s answer."""
    live, rows, rep_of, dem = merge
    n_s = model.neighbours.shape[1]
    selected = keep[res.selected]
    bound = b.upper
    if len(keep) == n_s and res.bound is not None:
        bound = min(b.upper, res.bound)
    g = _solvers.relative_gap(res.objective, bound)
    proven = (len(keep) == n_s and res.status == "optimal") or (g is not None and g <= tol + 1e-9)
    status = "optimal" if proven else "feasible"
    stopped = None
    if status != "optimal":
        stopped = res.stopped_by or (
            f"bound over all candidates; integer program on {len(keep)} of {n_s}"
        )
    extra = {
        **unmerged(model, res.extra, rows, rep_of, dem),
        "scale": {
            "points_merged": int(live.sum()),
            "rows": len(rows),
            "candidates_kept": len(keep),
            "bound_capacity": b.capacity,
            "bound_network": b.network,
            "bound_coverage": b.coverage if np.isfinite(b.coverage) else None,
            "flow_start": b.flow.served,
            "lagrangian_steps": b.iterations,
            "reduced_bound": res.bound,
            "heuristic_s": round(heuristic_s, 3),
        },
    }
    return dataclasses.replace(
        res,
        selected=selected,
        bound=bound,
        gap=g,
        status=status,
        build_s=res.build_s + heuristic_s,
        gap_tolerance=tol,
        stopped_by=stopped,
        extra=extra,
    )


def _capacity_bound(
    model: CapacitatedCoverage, sub: sp.csr_array, ac: np.ndarray, w: np.ndarray, free: np.ndarray
) -> tuple[np.ndarray, float]:
    """Each site's best capacity, limited to the demand in its reach, and the bound
    it gives: the existing sites plus the ``p`` best free ones."""
    nb_t = sp.csr_array(sub, dtype=np.float64).T.tocsr()
    value = np.zeros(sub.shape[1])
    if "AC" in model.capacity:
        value = np.maximum(value, np.minimum(model.capacity["AC"], nb_t @ ac))
    if "DC" in model.capacity:
        value = np.maximum(value, np.minimum(model.capacity["DC"], nb_t @ w))
    n_free = model.p - len(model.fixed)
    free_values = np.sort(value[free])[::-1]
    return value, float(value[model.fixed].sum() + free_values[:n_free].sum())


def _coverage_bound(
    model: CapacitatedCoverage, sub: sp.csr_array, w: np.ndarray, free: np.ndarray, budget_s: float
) -> tuple[np.ndarray, _cover.CoverBound, float]:
    """The covering model's swap plan, its Lagrangian bound and the bound it gives
    on the demand any plan serves (it cannot serve more than it covers)."""
    n_free = model.p - len(model.fixed)
    cov_rows, cov_w, by_fixed = _cover_rows(sub, w, model.fixed, None)
    constant = float(w[by_fixed].sum())
    cov_nb, cov_weights = sub[cov_rows], cov_w[cov_rows]
    cover_model = MaximalCovering(sub, w, model.p, fixed=model.fixed)
    cover_plan = _cover.swap(
        cov_nb, cov_weights, cover_model.greedy(), model.fixed, time_limit=budget_s
    )
    is_open = np.zeros(sub.shape[1], dtype=bool)
    is_open[cover_plan] = True
    lag = _cover.lagrangian_bound(
        cov_nb,
        cov_weights,
        n_free,
        free,
        _cover.coverage(cov_nb, cov_weights, is_open),
        time_limit=budget_s,
    )
    return cover_plan, lag, constant + lag.value


def _solve_restricted(
    model: CapacitatedCoverage,
    sub: sp.csr_array,
    ac: np.ndarray,
    dc: np.ndarray,
    keep: np.ndarray,
    fixed: np.ndarray,
    options: SolveOptions,
    *,
    start: dict[str, Any],
) -> SolveResult:
    """The integer program on the merged rows and the ``keep`` candidates only, with
    ``fixed`` (positions in ``keep``) open, warm-started from ``start`` (solved as
    given: no second merge, no second reduction). The bound of the whole problem is
    not given to it as a row: on 25,000 x 1,000 that dense row kept HiGHS from
    solving its root LP in 28 s."""
    restricted = type(model)(
        sp.csr_array(sub[:, keep]),
        ac,
        dc,
        model.capacity,
        model.p,
        fixed=fixed,
        station_cost=model.station_cost,
    )
    return restricted.solve_direct(options, start=start)


def _promising(
    model: CapacitatedCoverage,
    sub: sp.csr_array,
    ac: np.ndarray,
    dc: np.ndarray,
    value: np.ndarray,
    cover_plan: np.ndarray,
) -> np.ndarray:
    """The candidates the integer program keeps: the existing ones, the greedy and
    covering plans' sites and the ``CANDIDATES_PER_STATION * p`` of highest bound."""
    merged = type(model)(sub, ac, dc, model.capacity, model.p, fixed=model.fixed)
    start = merged.greedy()
    ranked = np.argsort(-value, kind="stable")[: settings.CANDIDATES_PER_STATION * model.p]
    chosen = np.fromiter(start["types"], dtype=np.int64)
    return np.unique(np.concatenate([model.fixed, chosen, cover_plan, ranked]))


def _start_on(
    keep: np.ndarray, types: dict[int, str], flow: _flow.Flow, ac: np.ndarray, dc: np.ndarray
) -> dict[str, Any]:
    """The flow's plan as a warm start of the model on the ``keep`` candidates."""
    pos = np.searchsorted(keep, flow.sites)
    u = {
        (int(i), int(j)): float(x / ac[i])
        for i, j, x in zip(flow.rows, pos, flow.ac, strict=True)
        if x > 0 and ac[i] > 0
    }
    v = {
        (int(i), int(j)): float(x / dc[i])
        for i, j, x in zip(flow.rows, pos, flow.dc, strict=True)
        if x > 0 and dc[i] > 0
    }
    kinds = {int(np.searchsorted(keep, j)): t for j, t in types.items()}
    return {"types": kinds, "x": [u, v]}


def _flow_result(
    model: CapacitatedCoverage,
    keep: np.ndarray,
    types: dict[int, str],
    flow: _flow.Flow,
    n_rows: int,
    demand: float,
    tol: float,
) -> SolveResult:
    """The flow's plan on the merged rows (``demand`` sessions/day in all) as a
    result, sites as positions in ``keep``, in the form of
    :func:`siting.optimize.capacitated._solve.plan_result`."""
    pos = np.searchsorted(keep, flow.sites)
    kinds = np.array([types[int(j)] for j in keep])
    is_ac, is_dc = flow.ac > 1e-9, flow.dc > 1e-9
    assignment = (
        np.concatenate([flow.rows[is_ac], flow.rows[is_dc]]),
        np.concatenate([pos[is_ac], pos[is_dc]]),
        np.concatenate([flow.ac[is_ac], flow.dc[is_dc]]),
        np.repeat([0, 1], [int(is_ac.sum()), int(is_dc.sum())]).astype(np.int64),
    )
    extra = plan_figures(model, keep, kinds, assignment, n_rows)
    extra.update(
        demand_total=demand,
        secondary=None,
        heuristic_objective=flow.served,
    )
    return SolveResult(
        model=model.name,
        selected=np.arange(len(keep)),
        objective=float(extra["load"].sum()),
        bound=None,
        gap=None,
        status="optimal",
        solver="flow",
        solve_s=0.0,
        build_s=0.0,
        gap_tolerance=tol,
        stopped_by=None,
        extra=extra,
    )
