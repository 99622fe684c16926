"""Large capacitated instances (:meth:`CapacitatedCoverage.solve` beyond
``settings.CAPACITATED_DIRECT_PAIRS`` assignment pairs)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from siting import _cover, _solvers, settings
from siting._clock import time_left
from siting.optimize._capacitated_solve import same_reach_rows, unmerged
from siting.optimize._common import _cover_rows
from siting.optimize.covering import MaximalCovering
from siting.optimize.result import SolveResult

if TYPE_CHECKING:
    from siting.optimize.capacitated import CapacitatedCoverage

log = logging.getLogger(__name__)


def solve_large(
    model: CapacitatedCoverage,
    solver: str | None,
    *,
    time_limit: float | None,
    gap: float | None,
    threads: int | None,
    msg: bool,
) -> SolveResult:
    """A large instance: merged rows, bounds over every candidate, MIP on the best.

    1. Points with the same sites in reach are merged (exact: shares of a merged
       point split back in proportion).
    2. Two bounds hold for every plan over all candidates: served demand is at
       most the demand covered (Lagrangian bound of the covering model, see
       ``siting._cover``) and at most the sum, over the ``p`` best sites, of
       ``min(capacity, demand in reach)``.
    3. The integer program runs on a reduced candidate set (the greedy and
       covering plans' sites, the existing ones and the
       ``settings.CANDIDATES_PER_STATION * p`` sites of highest bound), warm
       started from the greedy plan. Its plan is feasible for the full problem;
       the gap is measured against the bound of step 2, so it is honest even
       though the reduced set might miss a better plan.
    """
    t0 = time.perf_counter()
    _, tol = _solvers.check_options(solver, time_limit, gap)
    n_s = model.neighbours.shape[1]
    live, rows, rep_of, ac, dc = same_reach_rows(model)
    sub = sp.csr_array(model.neighbours[rows])
    w = ac + dc
    free = np.ones(n_s, dtype=bool)
    free[model.fixed] = False
    value, bound_capacity = _capacity_bound(model, sub, ac, w, free)
    budget_s = 0.15 * time_limit if time_limit else 20.0
    cover_plan, lag, bound_coverage = _coverage_bound(model, sub, w, free, budget_s)
    upper = min(bound_capacity, bound_coverage)
    # the integer program on the most promising candidates
    keep = _promising(model, sub, ac, dc, value, cover_plan)
    heuristic_s = time.perf_counter() - t0
    left = time_left(time_limit, heuristic_s)
    log.info(
        "capacitated: %d points merged into %d rows; bounds: capacity %.6g, coverage %.6g; "
        "integer program on %d of %d candidates (%.2f s so far)",
        int(live.sum()),
        len(rows),
        bound_capacity,
        bound_coverage,
        len(keep),
        n_s,
        heuristic_s,
    )
    res = _solve_restricted(model, sub, ac, dc, keep, solver, left, gap, threads, msg)
    selected = keep[res.selected]
    bound = upper
    if len(keep) == n_s and res.bound is not None:
        bound = min(upper, res.bound)
    g = _solvers.relative_gap(res.objective, bound)
    proven = (len(keep) == n_s and res.status == "optimal") or (g is not None and g <= tol + 1e-9)
    status = "optimal" if proven else "feasible"
    stopped = None
    if status != "optimal":
        stopped = res.stopped_by or (
            f"bound over all candidates; integer program on {len(keep)} of {n_s}"
        )
    extra = {
        **unmerged(model, res.extra, rows, rep_of, ac, dc),
        "scale": {
            "points_merged": int(live.sum()),
            "rows": len(rows),
            "candidates_kept": len(keep),
            "bound_capacity": bound_capacity,
            "bound_coverage": bound_coverage,
            "lagrangian_steps": lag.iterations,
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
    solver: str | None,
    time_limit: float | None,
    gap: float | None,
    threads: int | None,
    msg: bool,
) -> SolveResult:
    """The integer program on the merged rows and the ``keep`` candidates only
    (solved as given: no second merge, no second reduction)."""
    restricted = type(model)(
        sp.csr_array(sub[:, keep]),
        ac,
        dc,
        model.capacity,
        model.p,
        fixed=np.searchsorted(keep, model.fixed),
        station_cost=model.station_cost,
    )
    restricted._direct = True
    return restricted.solve(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)


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
