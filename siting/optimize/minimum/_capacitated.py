"""Private: the capacitated form of :class:`~siting.optimize.MinimumPlan`.

The rows of :class:`~siting.optimize.CapacitatedCoverage` with every candidate
allowed, served demand at least the target and the cost (or station count)
objective; the target is measured against the most any plan serves (an LP with
every candidate built, :func:`most_served`), so a target beyond capacity is
explained instead of searched for.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pulp

from siting import settings
from siting._clock import time_left
from siting.errors import InfeasibleError, TimeLimitError
from siting.optimize import _solvers
from siting.optimize.capacitated import _merge, _rows, _solve
from siting.optimize.capacitated.design import Design
from siting.optimize.capacitated.model import CapacitatedCoverage
from siting.optimize.options import SolveOptions
from siting.optimize.result import SolveResult

if TYPE_CHECKING:
    from siting.optimize.minimum.model import MinimumPlan

log = logging.getLogger(__name__)


def solve_capacitated(plan: MinimumPlan, options: SolveOptions) -> SolveResult:
    """:meth:`MinimumPlan.solve` in the capacitated form (``plan.capacity`` given)."""
    t0 = time.perf_counter()
    n_s = plan.neighbours.shape[1]
    full, model, rows, rep_of = capacitated_models(plan)
    required = plan.target * plan.reachable()
    room = capacity_most(model)
    if required > room * (1 + 1e-9):
        # beyond what every candidate's capacity holds: no LP needed to say so
        raise InfeasibleError(
            f"minimum plan: serving {100 * plan.target:.0f}% of the demand within reach "
            f"({required:,.1f} sessions/day) is beyond any plan: with every one of the "
            f"{n_s} candidates built and full of the sessions that take least of a "
            f"station's time, capacity serves at most {room:,.1f} sessions/day "
            f"({100 * room / max(plan.reachable(), 1e-12):.1f}% of it)"
        )
    if "value" not in plan.most:
        # the LP gets half the time at most; unproven, it says nothing (None)
        lp_limit = None if options.time_limit is None else options.time_limit / 2
        plan.most["value"], plan.most["start"] = most_served(plan, model, options.solver, lp_limit)
    most = plan.most["value"]
    if most is not None and required > most + 1e-6 * max(1.0, most):
        raise InfeasibleError(
            f"minimum plan: serving {100 * plan.target:.0f}% of the demand within reach "
            f"({required:,.1f} sessions/day) is beyond any plan: with every one of the "
            f"{n_s} candidates built, capacity serves at most {most:,.1f} sessions/day "
            f"({100 * most / max(plan.reachable(), 1e-12):.1f}% of it)"
        )
    start = warm_start(plan, model, required)
    prob, y, assign = model.build(floor=required, mode=plan.objective, start=start)
    build_s = time.perf_counter() - t0
    try:
        limit = time_left(options.time_limit, build_s)
        # a root LP by simplex can run far past a short limit: IPM's can be stopped
        mip_lp = options.mip_lp if limit is None else settings.MINIMUM_MIP_LP
        info = _solvers.run(prob, options.but(time_limit=limit, mip_lp=mip_lp))
    except TimeLimitError:
        # stopped before it found a plan: the warm start is one if it serves the target
        short = model.plan_served(start) < required * (1 - 1e-9)
        if short or not _solve.start_is_a_plan(model, start, exact_p=False):
            raise
        _rows.warm(model, y, assign, start)
        info = _solvers.SolveInfo(
            "feasible", math.nan, None, None, options.solver, time.perf_counter() - t0,
            options.gap, "time limit: the warm start (greedy), not improved",
        )  # fmt: skip
    if info.status == "infeasible":
        raise InfeasibleError(f"minimum plan: no plan serves {required:,.1f} sessions/day")
    site_type, values = _solve.solver_plan(model, y, assign)
    res = _solve.plan_result(
        model, site_type, values, info, info.status, info.stopped_by, info.seconds, build_s,
        0.0, exact_p=False,
    )  # fmt: skip
    extra = res.extra
    if rows is not None and rep_of is not None:
        extra = _merge.unmerged(full, extra, rows, rep_of, model.demand)
    value = extra["cost"] if plan.objective == "cost" else float(len(res.selected))
    extra.update(
        target=plan.target,
        reachable=plan.reachable(),
        required=required,
        served=float(extra["load"].sum()),
        stations=len(res.selected),
        most_served=most,
    )
    # the solver's bound, or the capacity bound when that says more (HiGHS stopped
    # before its root LP says nothing)
    bounds = [b for b in (info.bound, capacity_bound(model, required, plan.objective)) if b]
    bound = max(bounds) if bounds else None
    return SolveResult.from_info(
        plan.name,
        res.selected,
        info,
        build_s,
        extra,
        objective=float(value),
        bound=bound,
        gap=_solvers.relative_gap(float(value), bound),
    )


def _most_sessions(d: Design) -> float:
    """Sessions a day a station of design ``d`` holds at most: full of the class
    taking least of its time."""
    return d.capacity / min(u for u in d.units if not math.isnan(u))


def _room(model: CapacitatedCoverage, j: int) -> float:
    """Sessions a day site ``j`` holds at most, as its most capable design."""
    return max(_most_sessions(model.design_at(j, t)) for t in model.site_types(j))


def capacity_most(model: CapacitatedCoverage) -> float:
    """An upper bound on the sessions any plan serves, from capacity alone: every
    candidate built as its most capable design, full of the sessions taking least of
    its time (reach and demand are ignored)."""
    n_s = model.neighbours.shape[1]
    return float(sum(_room(model, j) for j in range(n_s) if model.site_types(j)))


def capacity_bound(model: CapacitatedCoverage, required: float, objective: str) -> float:
    """A lower bound on the cost (or stations) of any plan serving ``required``
    sessions/day, from capacity alone: the existing stations at their most, then new
    sites at their least cost per session of room, filled fractionally, each offering
    the most sessions any of its designs holds (a relaxation: reach is ignored)."""
    n_s = model.neighbours.shape[1]
    left = required - sum(_room(model, j) for j in model.fixed_set)
    offers = []
    for j in range(n_s):
        if j in model.fixed_set or not model.site_types(j):
            continue
        room = _room(model, j)
        if objective == "cost":
            per = min(
                model.cost_of(j, t) / _most_sessions(model.design_at(j, t))
                for t in model.site_types(j)
            )
        else:
            per = 1.0 / room
        offers.append((per, room))
    total = 0.0
    for per, room in sorted(offers):
        if left <= 0:
            break
        take = min(room, left)
        total += per * take
        left -= take
    return total


def capacitated_models(
    plan: MinimumPlan,
) -> tuple[CapacitatedCoverage, CapacitatedCoverage, np.ndarray | None, np.ndarray | None]:
    """The capacitated model with every candidate allowed (p = all), and the one
    solved: its points of the same reach merged into one row when that pays
    (exact; see :func:`siting.optimize.capacitated._merge.merged`), with the
    merge's rows and representatives (None when not merged)."""
    if plan.base is not None:
        full = _every_candidate(plan.base, plan.base.fixed)
    else:
        full = CapacitatedCoverage(
            plan.neighbours,
            plan.ac,
            plan.dc,
            plan.capacity or {},
            plan.neighbours.shape[1],
            fixed=plan.fixed,
            station_cost=plan.station_cost,
            site_capacity=plan.site_capacity,
        )
    merged = _merge.merged(full)
    if merged is None:
        return full, full, None, None
    model, rows, rep_of = merged
    return full, model, rows, rep_of


def warm_start(plan: MinimumPlan, model: CapacitatedCoverage, required: float) -> dict[str, Any]:
    """The greedy by value per cost, else by value, else everything open (the
    plan of :func:`most_served`), whichever first serves ``required`` (the last
    greedy when the LP did not finish: no start serves it then)."""
    held = model.class_equity > 0
    for per_cost in dict.fromkeys([plan.objective == "cost", False]):
        greedy = model.greedy(stop_at=required, per_cost=per_cost, hold_equity=held)
        if model.plan_served(greedy) >= required - 1e-6 * max(1.0, required):
            return greedy
    start: dict[str, Any] | None = plan.most["start"]
    return greedy if start is None else start


def most_served(
    plan: MinimumPlan, model: CapacitatedCoverage, solver: str, time_limit: float | None
) -> tuple[float | None, dict[str, Any] | None]:
    """Demand served with every candidate open as its most capable type (an LP, by
    ``solver`` with the default gap, threads and log), and that plan as a warm start
    for the minimum plan; (None, None) when the LP is not solved within
    ``time_limit``: then nothing is known of the most."""
    n_s = plan.neighbours.shape[1]
    if not model.legacy:
        return _most_by_lp(model, solver, time_limit)
    best = max(model.capacity, key=lambda t: model.capacity[t] + (t == "DC"))
    cap = "DC" if "DC" in model.capacity else best
    everything = CapacitatedCoverage(
        model.neighbours,
        model.ac,
        model.dc,
        {cap: model.capacity[cap]},
        n_s,
        fixed=np.arange(n_s),
        site_capacity={j: kv for j, kv in plan.site_capacity.items() if kv[0] == cap},
    )
    prob, _, assign = everything.build()
    value = _relaxed_value(prob, solver, time_limit)
    if value is None:
        return None, None
    start = {
        "types": {j: model.site_types(j)[-1] for j in range(n_s)},
        "x": [
            {k: min(1.0, max(0.0, x.varValue or 0.0)) for k, x in xs.items()} for xs in assign["x"]
        ],
    }
    return value, start


def _relaxed_value(prob: pulp.LpProblem, solver: str, time_limit: float | None) -> float | None:
    """The optimum of ``prob`` with every variable continuous; None when the LP is
    not solved within ``time_limit`` (then nothing is known of it)."""
    for v in prob.variables():
        v.cat = pulp.LpContinuous
    info = _solvers.run(prob, SolveOptions(solver, time_limit))
    if info.status != "optimal":
        log.info("minimum plan: the LP of the most served stopped (%s)", info.stopped_by)
        return None
    return float(info.objective)


def _every_candidate(model: CapacitatedCoverage, fixed: np.ndarray) -> CapacitatedCoverage:
    """``model`` with every candidate allowed (p = all sites), ``fixed`` kept, no
    budget, secondary order, bound on DC stations or class weights."""
    out = copy.copy(model)
    n_s = model.neighbours.shape[1]
    out.p = n_s
    out.secondary = False
    out.budget = None
    out.max_dc = None
    out.dc_exact = False
    out.last_secondary = None
    out.fixed = np.asarray(fixed, dtype=np.int64)
    out.fixed_set = set(out.fixed.tolist())
    # the target is in sessions: every class's counts as one (its weight is the plan's)
    out.class_weight = np.ones_like(model.class_weight)
    return out


def _most_by_lp(
    model: CapacitatedCoverage, solver: str, time_limit: float | None
) -> tuple[float | None, dict[str, Any] | None]:
    """With designs: the LP of every candidate open, each as a mix of its designs,
    bounds what any plan serves (not a plan: no warm start)."""
    n_s = model.neighbours.shape[1]
    everything = _every_candidate(model, np.arange(n_s))
    prob, _, _ = everything.build()
    return _relaxed_value(prob, solver, time_limit), None
