"""Private: solving the capacitated model (:class:`~siting.optimize.CapacitatedCoverage`).

Which path a model takes (:func:`solve`), the direct solve (one integer program,
with the weighted secondary order), the exact merge of points with the same reach
and its split back, and reading the plan and its one assignment from the solver's
values. The large-instance path is :mod:`siting.optimize.capacitated._large`; the rows are
:mod:`siting.optimize.capacitated._rows`.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pulp
import scipy.sparse as sp

from siting import settings
from siting._clock import time_left
from siting.errors import InfeasibleError
from siting.optimize import _solvers
from siting.optimize._common import _expand_assignment
from siting.optimize._rows import same_rows as _same_rows
from siting.optimize.capacitated import _rows
from siting.optimize.result import SolveResult

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage

log = logging.getLogger(__name__)


def solve_direct(
    model: CapacitatedCoverage,
    solver: str | None,
    *,
    time_limit: float | None,
    gap: float | None,
    threads: int | None,
    msg: bool,
) -> SolveResult:
    """The whole model in one integer program, from the greedy plan; with the
    secondary order, served plus the weighted order (see
    :func:`secondary_weight`) solved to a tighter gap."""
    t0 = time.perf_counter()
    _, tol = _solvers.check_options(solver, time_limit, gap)
    start0 = model._start if model._start is not None else model.greedy()
    greedy_served = model.plan_served(start0)
    weight, slack = None, 0.0
    solve_gap = gap
    if model.secondary:
        weight, slack = secondary_weight(model, greedy_served, tol)
        solve_gap = tol * settings.SECONDARY_GAP_FACTOR
    prob, y, assign = model.build(start=start0, weight=weight)
    build_s = time.perf_counter() - t0
    # the time limit covers building the model too
    limit = time_left(time_limit, build_s)
    info = _solvers.run(prob, solver, time_limit=limit, gap=solve_gap, threads=threads, msg=msg)
    if info.status == "infeasible":
        raise InfeasibleError(model.explain_infeasible(f"capacitated coverage (p={model.p})"))
    status, stopped = info.status, info.stopped_by
    model.last_secondary = None
    if weight is not None:
        secondary = info.objective - served_value(model, assign)
        # any plan serves at most the combined bound less its own secondary terms,
        # which are at least -slack
        bound = None if info.bound is None else info.bound / 1.0 + weight * slack
        model.last_secondary = {
            "order": "demand within the threshold, then capital cost",
            "weight": weight,
            "value": secondary / weight,
            "combined_gap": info.gap,
            "status": info.status,
        }
        info = dataclasses.replace(info, bound=bound, gap_tolerance=tol)
        if info.status == "optimal":
            # proven to the tighter gap of the combined objective; the served total
            # is within the tolerance of its bound
            g = _solvers.relative_gap(served_value(model, assign), bound)
            ok = max(tol, settings.SECONDARY_MIN_TOLERANCE) + 1e-12
            status = "optimal" if g is not None and g <= ok else "feasible"
    return read_result(
        model, y, assign, info, status, stopped, info.seconds, build_s, greedy_served
    )


def same_reach_rows(
    model: CapacitatedCoverage,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points with demand and the same sites in reach, one row each (exact).

    Returns the points with demand in reach (mask), the representative rows, the
    representative of every point (-1 for none) and the AC and DC demand of each
    representative row, summed over the points it stands for.
    """
    nb = model.neighbours
    n_d = nb.shape[0]
    live = (np.diff(nb.indptr) > 0) & ((model.ac + model.dc) > 0)
    rows, rep_of = _same_rows(nb, live, None)
    ac = np.bincount(rep_of[live], weights=model.ac[live], minlength=n_d)[rows]
    dc = np.bincount(rep_of[live], weights=model.dc[live], minlength=n_d)[rows]
    return live, rows, rep_of, ac, dc


def merged(model: CapacitatedCoverage) -> tuple[CapacitatedCoverage, np.ndarray, np.ndarray] | None:
    """The same instance with the points of identical reach merged into one row.

    Exact: a merged point's shares split back in proportion, its cover variable
    stands for all of them. Not applied where points differ beyond their reach
    (district equity rows, access times in the secondary order) or where fewer
    than a tenth of the rows would go. Returns (model, representative rows,
    representative of every point) or None.
    """
    if model.groups is not None and model.equity_share > 0:
        return None
    if model.times is not None and settings.SECONDARY_WEIGHTS[0] > 0:
        return None
    live, rows, rep_of, ac, dc = same_reach_rows(model)
    if len(rows) > 0.9 * live.sum():
        return None
    # a shallow copy keeps every option and side constraint (all per site);
    # only the per-point arrays change
    reduced = copy.copy(model)
    reduced.neighbours = sp.csr_array(model.neighbours[rows])
    reduced.ac, reduced.dc = ac, dc
    reduced.times = None
    reduced.groups = None
    reduced._direct = True
    log.info("capacitated: %d points merged into %d rows", int(live.sum()), len(rows))
    return reduced, rows, rep_of


def unmerged(
    model: CapacitatedCoverage,
    x: dict[str, Any],
    rows: np.ndarray,
    rep_of: np.ndarray,
    ac: np.ndarray,
    dc: np.ndarray,
) -> dict[str, Any]:
    """A merged model's per-point figures back on this model's points, in proportion."""
    pos = np.searchsorted(rows, np.where(rep_of >= 0, rep_of, rows[0] if len(rows) else 0))
    frac_ac = np.divide(x["served_ac"], ac, out=np.zeros(len(rows)), where=ac > 0)
    frac_dc = np.divide(x["served_dc"], dc, out=np.zeros(len(rows)), where=dc > 0)
    served_ac = np.where(rep_of >= 0, frac_ac[pos] * model.ac, 0.0) if len(rows) else model.ac * 0
    served_dc = np.where(rep_of >= 0, frac_dc[pos] * model.dc, 0.0) if len(rows) else model.dc * 0
    return {
        **x,
        "assignment": _expand_assignment(x["assignment"], rep_of, pos, ac, dc, model.ac, model.dc),
        "served_ac": served_ac,
        "served_dc": served_dc,
        "demand_total": float(model.ac.sum() + model.dc.sum()),
    }


def served_value(model: CapacitatedCoverage, assign: dict[str, Any]) -> float:
    """Sessions per day the solver's assignment serves."""
    return float(
        sum(max(0.0, x.varValue or 0.0) * model.ac[i] for (i, _), x in assign["u"].items())
        + sum(max(0.0, x.varValue or 0.0) * model.dc[i] for (i, _), x in assign["v"].items())
    )


def secondary_weight(
    model: CapacitatedCoverage, served_floor: float, tol: float
) -> tuple[float, float]:
    """Weight of the secondary order and the most its negative terms can subtract.

    The secondary terms of any plan lie in ``[-slack, W]`` (``W`` all demand);
    with ``weight × (W + slack) <= tol / 2 × served`` the combined optimum serves
    within half the tolerance of the most served.
    """
    alpha, beta = settings.SECONDARY_WEIGHTS
    total = float(model.ac.sum() + model.dc.sum())
    slack = alpha * total + beta * model.p
    scale = max(served_floor, 1e-9 * max(total, 1.0))
    tol = max(tol, settings.SECONDARY_MIN_TOLERANCE)
    return 0.5 * tol * scale / max(total + slack, 1e-12), slack


def read_result(
    model: CapacitatedCoverage,
    y: dict[str, list[pulp.LpVariable]],
    assign: dict[str, Any],
    info: _solvers.SolveInfo,
    status: str,
    stopped: str | None,
    seconds: float,
    build_s: float,
    greedy_served: float,
    *,
    exact_p: bool = True,
) -> SolveResult:
    """Read the plan and its one assignment of demand to stations."""
    n_d, n_s = model.neighbours.shape
    site_type = _rows.chosen_types(y, n_s)
    selected = np.flatnonzero(site_type != "")
    pos = np.full(n_s, -1, dtype=np.int64)
    pos[selected] = np.arange(len(selected))
    rows, cols, vals, kinds = [], [], [], []
    for kind, amounts in (("u", model.ac), ("v", model.dc)):
        for (i, j), x in assign[kind].items():
            val = max(0.0, x.varValue or 0.0) * amounts[i]
            if val > 1e-9 and pos[j] >= 0:
                rows.append(i)
                cols.append(int(pos[j]))
                vals.append(val)
                kinds.append(kind)
    r, c, v = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals)
    is_dc = np.array([k == "v" for k in kinds], dtype=bool).reshape(-1)
    types = site_type[selected].astype(str)
    extra = plan_figures(model, selected, types, (r, c, v, is_dc), n_d)
    served = float(extra["load"].sum())
    extra.update(
        demand_total=float(model.ac.sum() + model.dc.sum()),
        secondary=model.last_secondary,
        heuristic_objective=greedy_served,
    )
    if exact_p and model.budget is None and len(selected) != model.p:
        raise InfeasibleError(f"solver returned {len(selected)} sites, expected p={model.p}")
    g = _solvers.relative_gap(served, info.bound)
    info = dataclasses.replace(info, objective=served, gap=g, seconds=seconds)
    info = dataclasses.replace(info, status=status, stopped_by=stopped)
    return SolveResult.from_info(model.name, selected, info, build_s, extra)


def plan_figures(
    model: CapacitatedCoverage,
    sites: np.ndarray,
    types: np.ndarray,
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n_points: int,
) -> dict[str, Any]:
    """Per station (``sites`` of ``model``, of ``types``) and per point figures of a
    plan's one ``assignment``: (demand point, position in ``sites``, sessions/day,
    whether they are DC sessions)."""
    r, c, v, is_dc = assignment
    load = np.bincount(c, weights=v, minlength=len(sites))
    cap = np.array([model.capacity_of(int(j), t) for j, t in zip(sites, types, strict=True)])
    cost = np.array([model.cost_of(int(j), t) for j, t in zip(sites, types, strict=True)])
    return {
        "types": types,
        "load": load,
        "capacity": cap,
        "utilisation": np.divide(load, cap, out=np.zeros(len(cap)), where=cap > 0),
        "served_ac": np.bincount(r[~is_dc], weights=v[~is_dc], minlength=n_points),
        "served_dc": np.bincount(r[is_dc], weights=v[is_dc], minlength=n_points),
        "assignment": assignment,
        "station_cost": cost,
        "cost": float(cost.sum()),
    }


def solve(
    model: CapacitatedCoverage,
    solver: str | None,
    *,
    time_limit: float | None,
    gap: float | None,
    threads: int | None,
    msg: bool,
) -> SolveResult:
    """:meth:`CapacitatedCoverage.solve`: the large-instance path when the model
    allows it, else the merged or the direct integer program."""
    # imported here: the large path builds on this module's merge and figures
    from siting.optimize.capacitated._large import solve_large

    pairs = int(model.neighbours.nnz) * (2 if "DC" in model.capacity else 1)
    large = pairs > settings.CAPACITATED_DIRECT_PAIRS
    if large and not model._direct and model._plain() and not model.site_capacity:
        return solve_large(model, solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
    if large and not model._direct:
        log.info(
            "capacitated: %d assignment pairs, but a budget, spacing, equity or known "
            "station capacities rule out the large-instance path; the whole model instead",
            pairs,
        )
    reduced = None if model._direct else merged(model)
    if reduced is not None:
        sub, rows, rep_of = reduced
        res = sub.solve(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        model.last_secondary = sub.last_secondary
        return dataclasses.replace(
            res, extra=unmerged(model, res.extra, rows, rep_of, sub.ac, sub.dc)
        )
    return solve_direct(model, solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
