"""Private: solving the capacitated model (:class:`~siting.optimize.CapacitatedCoverage`).

Which path a model takes (:func:`solve`), the direct solve (one integer program,
with the weighted secondary order), the exact merge of points with the same reach
and reading the plan and its one assignment from the solver's values. The merge of
points with the same reach is :mod:`siting.optimize.capacitated._merge`, the
large-instance path :mod:`siting.optimize.capacitated._large`, the rows
:mod:`siting.optimize.capacitated._rows`.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pulp

from siting import settings
from siting._clock import time_left
from siting.errors import InfeasibleError, TimeLimitError
from siting.optimize import _solvers
from siting.optimize.capacitated import _polish, _rows
from siting.optimize.capacitated._large import solve_large
from siting.optimize.capacitated._merge import merged, plan_figures, unmerged
from siting.optimize.result import SolveResult

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage
    from siting.optimize.options import SolveOptions

log = logging.getLogger(__name__)


def solve_direct(
    model: CapacitatedCoverage, options: SolveOptions, *, start: dict[str, Any] | None = None
) -> SolveResult:
    """The whole model in one integer program (as given: no merge, no reduction),
    from ``start`` (a plan of :meth:`~CapacitatedCoverage.greedy`'s form, else the
    greedy plan); with the secondary order, served plus the weighted order (see
    :func:`secondary_weight`) solved to a tighter gap."""
    t0 = time.perf_counter()
    tol = options.gap
    start0 = start if start is not None else model.greedy()
    greedy_served = model.plan_served(start0)
    short = too_short(model, options.time_limit)
    if short is not None:
        start0 = whole_start(model, start, start0)
        greedy_served = model.plan_served(start0)
        if start_is_a_plan(model, start0):
            # building the model alone would take longer than the solve may
            why = (
                f"time limit: {options.time_limit:.2f} s is less than building the integer "
                f"program takes (about {short:.1f} s); the warm start (greedy), not improved"
            )
            return start_result(model, start0, options, why, time.perf_counter() - t0, 0.0)
    weight, slack = None, 0.0
    solve_gap = tol
    # with the final order to follow, the solve breaks ties by cost alone: the final
    # order then raises the demand within reach (see _polish)
    polished = model.secondary is True and _polish.applies(model) is None
    built = copy.copy(model) if polished else model
    if polished:
        built.secondary = "cost"
    if model.secondary:
        weight, slack = secondary_weight(model, greedy_served, tol)
        factor = (
            settings.SECONDARY_GAP_FACTOR
            if model.uniform_units()
            else settings.SECONDARY_GAP_FACTOR_CLASSES
        )
        solve_gap = tol * factor
    prob, y, assign = built.build(start=start0, weight=weight)
    build_s = time.perf_counter() - t0
    # the time limit covers building the model too
    limit = time_left(options.time_limit, build_s)
    try:
        info = _solvers.run(prob, options.but(time_limit=limit, gap=solve_gap))
    except TimeLimitError:
        # stopped before it found a plan: the warm start is one, if it meets every row
        start0 = whole_start(model, start, start0)
        if not start_is_a_plan(model, start0):
            raise
        why = "time limit: the warm start (greedy), not improved"
        seconds = time.perf_counter() - t0 - build_s
        return start_result(model, start0, options, why, seconds, build_s)
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
            "order": "capital cost in the solve, then the final order (solver.final_order)"
            if polished
            else "demand within the threshold, then capital cost"
            if model.legacy
            else "each class's demand within its own reach of a design it may use, then "
            "capital cost"
            + ("" if model.uniform_units() else " (a preference within the gap, not proven)"),
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
    site_type, values = solver_plan(model, y, assign)
    shares: Iterable[tuple[tuple[int, int, int], float]] = values
    if polished:
        shares = _start_assignment(model, start0, site_type, values, greedy_served)
    return plan_result(
        model, site_type, shares, info, status, stopped, info.seconds, build_s, greedy_served
    )


def _start_assignment(
    model: CapacitatedCoverage,
    start: dict[str, Any],
    site_type: np.ndarray,
    values: Iterable[tuple[tuple[int, int, int], float]],
    start_served: float,
) -> Iterable[tuple[tuple[int, int, int], float]]:
    """The assignment the final order starts from: the warm start's own (the greedy's,
    the same whatever the solver) when the solver returned the warm start's stations
    and serves as much with them, and the start meets every row; else the solver's."""
    opened = {int(j): str(t) for j, t in enumerate(site_type) if t}
    if opened != {int(j): str(t) for j, t in start["types"].items()}:
        return values
    if not start_is_a_plan(model, start, exact_p=False):  # e.g. it breaks the equity
        return values
    given = list(values)
    served = sum(model.class_weight[k] * share * model.demand[k, i] for (k, i, _), share in given)
    if abs(served - start_served) > 1e-9 * max(1.0, served):
        return given
    return [((k, i, j), share) for k, xs in enumerate(start["x"]) for (i, j), share in xs.items()]


def start_is_a_plan(
    model: CapacitatedCoverage, start: dict[str, Any], *, exact_p: bool = True
) -> bool:
    """Whether a warm start (:meth:`~CapacitatedCoverage.greedy`'s form) is a whole
    plan: ``p`` stations (with a budget or not ``exact_p``, at most), each class's
    minimum share and the equity floor met."""
    n = len(start["types"])
    if n > model.p or (exact_p and model.exact_p and n != model.p):
        return False
    if model.min_use and not _rows.uses_met(model, start):
        return False
    got = np.array(
        [sum(model.demand[c, i] * x for (i, _), x in xs.items()) for c, xs in enumerate(start["x"])]
    )
    if np.any(got < model.min_share * model.class_total - 1e-6):
        return False
    total = float(model.class_total.sum())
    if model.class_equity > 0 and total > 0:
        floor = model.class_equity * model.class_total / total * got.sum()
        return bool(np.all(got >= floor - 1e-6))
    return True


def whole_start(
    model: CapacitatedCoverage, given: dict[str, Any] | None, start: dict[str, Any]
) -> dict[str, Any]:
    """The warm start to return as a plan when the solver cannot run: the one
    ``given``, else the greedy holding the groups' equity (the solve's own start
    leaves those rows to the solver)."""
    if given is None and model.class_equity > 0:
        return model.greedy(hold_equity=True)
    return start


def start_result(
    model: CapacitatedCoverage,
    start: dict[str, Any],
    options: SolveOptions,
    why: str,
    seconds: float,
    build_s: float,
) -> SolveResult:
    """A warm start (:meth:`~CapacitatedCoverage.greedy`'s form) as the result of a
    solve stopped before the solver found a plan: feasible, nothing proven."""
    served = model.plan_served(start)
    info = _solvers.SolveInfo(
        "feasible", served, None, None, options.solver, seconds, options.gap, "time limit"
    )
    model.last_secondary = None
    site_type = np.full(model.neighbours.shape[1], "", dtype=object)
    for j, t in start["types"].items():
        site_type[j] = t
    shares = (((k, i, j), x) for k, xs in enumerate(start["x"]) for (i, j), x in xs.items())
    return plan_result(model, site_type, shares, info, "feasible", why, seconds, build_s, served)


def too_short(model: CapacitatedCoverage, time_limit: float | None) -> float | None:
    """The seconds building and reading the integer program is expected to take
    (:data:`siting.settings.BUILD_PAIRS_PER_S`) when ``time_limit`` leaves the solver
    no more than :data:`siting.settings.MIN_SOLVE_S` after it; else None."""
    if time_limit is None:
        return None
    pairs = sum(int(m.nnz) for m in model.class_nb)
    need = pairs / settings.BUILD_PAIRS_PER_S
    return need if time_limit < need + settings.MIN_SOLVE_S else None


def served_value(model: CapacitatedCoverage, assign: dict[str, Any]) -> float:
    """Sessions per day the solver's assignment serves (weighted by class)."""
    return float(
        sum(
            model.class_weight[c] * max(0.0, x.varValue or 0.0) * model.demand[c, i]
            for c, xs in enumerate(assign["x"])
            for (i, _), x in xs.items()
        )
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
    total = float(model.class_weight @ model.demand.sum(axis=1))
    slack = alpha * total + beta * model.p
    scale = max(served_floor, 1e-9 * max(total, 1.0))
    tol = max(tol, settings.SECONDARY_MIN_TOLERANCE)
    return 0.5 * tol * scale / max(total + slack, 1e-12), slack


def solver_plan(
    model: CapacitatedCoverage, y: dict[str, list[pulp.LpVariable]], assign: dict[str, Any]
) -> tuple[np.ndarray, Iterator[tuple[tuple[int, int, int], float]]]:
    """The solver's plan as :func:`plan_result` reads it: each site's design and the
    share of each (class, point, site) pair assigned."""
    values = (
        ((k, i, j), x.varValue or 0.0)
        for k, xs in enumerate(assign["x"])
        for (i, j), x in xs.items()
    )
    return _rows.chosen_types(y, model.neighbours.shape[1]), values


def plan_result(
    model: CapacitatedCoverage,
    site_type: np.ndarray,
    values: Iterable[tuple[tuple[int, int, int], float]],
    info: _solvers.SolveInfo,
    status: str,
    stopped: str | None,
    seconds: float,
    build_s: float,
    greedy_served: float,
    *,
    exact_p: bool = True,
) -> SolveResult:
    """The result of a plan: each site's design (``""``: closed) and the share of each
    (class, point, site) pair assigned."""
    n_d, n_s = model.neighbours.shape
    final_order = None
    if model.secondary is True:
        site_type, values, final_order = _final_order(model, site_type, values)
    selected = np.flatnonzero(site_type != "")
    pos = np.full(n_s, -1, dtype=np.int64)
    pos[selected] = np.arange(len(selected))
    rows, cols, vals, kinds = [], [], [], []
    for (k, i, j), share in values:
        val = max(0.0, share) * model.demand[k, i]
        if val > 1e-9 and pos[j] >= 0:
            rows.append(i)
            cols.append(int(pos[j]))
            vals.append(val)
            kinds.append(k)
    r, c, v = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals)
    cls = np.array(kinds, dtype=np.int64).reshape(-1)
    types = site_type[selected].astype(str)
    extra = plan_figures(model, selected, types, (r, c, v, cls), n_d)
    served = float(model.class_weight @ extra["served_by_class"].sum(axis=1))
    extra.update(
        demand_total=float(model.demand.sum()),
        secondary=model.last_secondary,
        heuristic_objective=greedy_served,
        final_order=final_order,
    )
    if exact_p and model.exact_p and len(selected) != model.p:
        raise InfeasibleError(f"solver returned {len(selected)} sites, expected p={model.p}")
    g = _solvers.relative_gap(served, info.bound)
    info = dataclasses.replace(info, objective=served, gap=g, seconds=seconds)
    info = dataclasses.replace(info, status=status, stopped_by=stopped)
    return SolveResult.from_info(model.name, selected, info, build_s, extra)


def _final_order(
    model: CapacitatedCoverage,
    site_type: np.ndarray,
    values: Iterable[tuple[tuple[int, int, int], float]],
) -> tuple[np.ndarray, Iterable[tuple[tuple[int, int, int], float]], dict[str, Any]]:
    """The plan after the final order among plans of equal value
    (:mod:`siting.optimize.capacitated._polish`), and what it did."""
    why = _polish.applies(model)
    if why is not None:
        return site_type, values, {"applied": False, "why": why}
    t0 = time.perf_counter()
    done = _polish.polish(model, site_type, dict(values))
    return (
        done.site_type,
        done.shares.items(),
        {
            "applied": True,
            "order": _polish.ORDER,
            "moved": done.moved,
            "exchanges": done.exchanges,
            "exchange_lps": done.exchange_lps,
            "covered_before": done.covered_before,
            "covered_after": done.covered_after,
            "seconds": round(time.perf_counter() - t0, 3),
        },
    )


def in_final_order(model: CapacitatedCoverage, res: SolveResult) -> SolveResult:
    """A plan of ``model``'s instance solved without the final order (e.g. a frontier
    point, ties broken by cost), put in it: :meth:`CapacitatedCoverage.in_final_order`."""
    if model.secondary is not True or _polish.applies(model) is not None:
        return res
    x = res.extra
    rows, cols, vals, kinds = x["assignment"]
    site_type = np.full(model.neighbours.shape[1], "", dtype=object)
    site_type[res.selected] = np.asarray(x["designs"], dtype=object)
    shares = [
        ((int(k), int(i), int(res.selected[c])), float(v / model.demand[k, i]))
        for i, c, v, k in zip(rows, cols, vals, kinds, strict=True)
    ]
    info = _solvers.SolveInfo(
        res.status, res.objective, res.bound, res.gap, res.solver, res.solve_s,
        res.gap_tolerance, res.stopped_by,
    )  # fmt: skip
    model.last_secondary = x.get("secondary")
    out = plan_result(
        model, site_type, shares, info, res.status, res.stopped_by, res.solve_s, res.build_s,
        float(x.get("heuristic_objective", 0.0)), exact_p=False,
    )  # fmt: skip
    return dataclasses.replace(out, gap_tolerance=res.gap_tolerance)


def solve(model: CapacitatedCoverage, options: SolveOptions) -> SolveResult:
    """:meth:`CapacitatedCoverage.solve`: the large-instance path when the model
    allows it, else the merged or the direct integer program."""
    pairs = sum(int(m.nnz) for m in model.class_nb)
    large = pairs > settings.CAPACITATED_DIRECT_PAIRS
    if large and model.plain() and not model.site_design and _large_form(model):
        return solve_large(model, options)
    if large:
        log.info(
            "capacitated: %d assignment pairs, but a budget, spacing, equity, known "
            "station capacities, designs, per-class reach or weights rule out the "
            "large-instance path; the whole model instead",
            pairs,
        )
    reduced = merged(model)
    if reduced is not None:
        sub, rows, rep_of = reduced
        res = solve_direct(sub, options)
        model.last_secondary = sub.last_secondary
        return dataclasses.replace(res, extra=unmerged(model, res.extra, rows, rep_of, sub.demand))
    return solve_direct(model, options)


def _large_form(model: CapacitatedCoverage) -> bool:
    """The large-instance path's form: the legacy AC and DC types, one reach, no
    site costs, minimum shares, class weights, forced or closed sites or least use."""
    return (
        model.legacy
        and not model.site_cost.any()
        and not model.min_share.any()
        and model.class_equity <= 0
        and not len(model.forced)
        and not len(model.closed)
        and not model.min_use
        and bool((model.class_weight == 1).all())
    )
