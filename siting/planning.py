"""Stage 5 — the optimisation request: the plan, its cost frontier, curve and phases.

:func:`planning_stage` is the stage. :func:`decide` builds the model the scenario
asks for (through the request builder, :class:`siting.request.Request`: capacities
of new and existing stations, costs, side constraints, secondary order), solves the
cost frontier and picks the plan by the scenario's rule, solves the curve sizes and
the phases. :func:`minimum_plans` answers how many stations a target takes;
:func:`siting.futures.staging.staged_plan` the stages of ``[optimize.staging]``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from siting import _cache, _threads, settings
from siting._clock import StageClock
from siting._io import array_digest, hash_key
from siting._plan_controls import controls_cost
from siting._solve_cache import solved
from siting.demand import Demand, demand_stage
from siting.errors import InfeasibleError, InputError, SolverError
from siting.frontier import budget_steps, choose, cost_frontier, frontier_steps
from siting.futures.staging import staged_plan
from siting.optimize import (
    CapacitatedCoverage,
    MinimumPlan,
    Phase,
    SolveOptions,
    SolveResult,
    phased_plan,
)
from siting.optimize._checks import check_p
from siting.request import PlanModel, Request
from siting.results import Decision, Inputs
from siting.scenario import Scenario, preset_label

log = logging.getLogger(__name__)

#: Bump when the cached minimum-plan rows change in content or layout.
_MINIMUM_CACHE_FORMAT = 4


def planning_stage(
    sc: Scenario, inputs: Inputs, need: Demand, *, cache_root: Path | None = None
) -> Decision:
    """Stage 5 of ``sc``: refuse what no plan can answer, then solve the plan (see
    :func:`decide`) and, beside it, the minimum plans of each preset asked for.

    Both end by the stage's deadline: ``optimize.time_limit_s`` from now. With
    ``cache_root`` the minimum plans are cached (see :func:`minimum_plans`).
    """
    oc = sc.optimize
    request = Request.of_scenario(sc, inputs, need)
    deadline = request.deadline()
    reach = request.reach()
    # each preset named with the EV shares the scenario sets itself (which it keeps)
    requests = {preset_label(sc): request}
    for preset in oc.minimum.presets if oc.minimum else []:
        if preset_label(sc, preset) not in requests:
            other = sc.with_overrides({"demand.preset": preset})
            demand = demand_stage(other, inputs, by_district=False)
            requests[preset_label(sc, preset)] = Request.of_scenario(sc, inputs, demand)
    # the minimum plans need nothing from the plan: solved beside it
    with _threads.pool(1, "minimum") as beside:
        job = beside.submit(minimum_plans, requests, cache_root=cache_root, deadline=deadline)
        decision = decide(request, deadline=deadline, cache_root=cache_root)
        if oc.staging is not None:  # stages on growing demand, after the plan
            decision.staging = staged_plan(sc, inputs, need, deadline=deadline, request=request)
        decision.minimum = job.result()
    decision.reach = reach
    return decision


def decide(
    request: Request, *, deadline: float | None = None, cache_root: Path | None = None
) -> Decision:
    """Solve the scenario's optimisation request (see the module docstring).

    The model is the one ``optimize.model`` names, built by ``request`` (see
    :meth:`siting.request.Request.model`). Every solve ends by ``deadline``
    (``time.perf_counter()``; by default ``optimize.time_limit_s`` from now, see
    :class:`siting._clock.StageClock`). With ``cache_root`` a model proven optimal
    before is read, not solved again (see :mod:`siting._solve_cache`).
    """
    oc = request.optimize_config
    # before any solve: a plan larger than the candidates fails whatever the time limit
    check_p(oc.p, len(request.inputs.candidates), len(request.existing))
    capacity: dict[str, float] = {}
    site_cap: dict[int, tuple[str, float]] = {}
    if oc.model == "capacitated":  # for the report: what a station serves
        capacity = dict(request.capacity)
        site_cap = dict(request.existing_capacity)
    if deadline is None:
        deadline = request.deadline()
    # independent solves (frontier points, curve sizes) run side by side
    with _threads.pool(settings.PARALLEL_SOLVES, "solve") as pool:
        decision = _decide(request, pool, capacity, site_cap, deadline, cache_root)
    decision.designs = _design_table(request)
    free = request.free()
    if free is not None:
        decision.controls = controls_cost(request, free, decision.result, deadline, cache_root)
    return decision


def _design_table(request: Request) -> dict[str, dict[str, Any]] | None:
    """The designs of a request with designs, for the outputs (see :class:`Decision`)."""
    if request.designs is None:
        return None
    specs = [*request.designs.specs, *(s for s, _ in request.existing_designs.values())]
    return {
        s.name: {
            "charger": s.charger,
            "ports": s.ports,
            "kw_per_port": s.kw_per_port,
            "station_kw": s.station_kw,
            "cost": s.cost,
            "cost_parts": dict(s.cost_parts),
            "segments": list(s.segments),
            "site_kinds": None if s.site_kinds is None else list(s.site_kinds),
            "hours_per_session": {g: round(h, 4) for g, h in s.hours.items()},
            "port_hours_day": round(s.capacity_h, 3),
            "sessions_day_at_mix": round(request.capacity.get(s.name, 0.0), 3)
            if s.name in request.capacity
            else None,
            "source": s.source,
        }
        for s in specs
    }


def _decide(
    request: Request,
    pool: ThreadPoolExecutor,
    capacity: dict[str, float],
    site_cap: dict[int, tuple[str, float]],
    deadline: float | None,
    cache_root: Path | None = None,
) -> Decision:
    """The plan, its frontier, curve sizes and phases (see :func:`decide`).

    The curve sizes and the frontier points are independent solves and run side by
    side on ``pool``; each gets its share of the time up to ``deadline``, the plan
    (solved last) all that is left.
    """
    oc, fixed, options = request.optimize_config, request.existing, request.options
    costs = dict(request.station_cost or {})
    budget = oc.budget.total if oc.budget else None
    sizes = sorted(set(oc.curve or []) - {oc.p})
    for p in sizes:
        if p < len(fixed):
            raise InputError(
                f"optimize.curve: {p} stations is below the {len(fixed)} existing stations"
            )
    costed = oc.model == "capacitated" and len(costs) > 1 and max(costs.values()) > 0
    n_points = 0
    budgets = _design_budgets(request) if costed else None
    if costed and not oc.phases:
        steps = budgets or frontier_steps(oc.p - len(fixed), oc.choose.points)
        n_points = len(steps) + (budget is not None)
    side_by_side = -(-(len(sizes) + n_points) // settings.PARALLEL_SOLVES)
    # solves in turn after those: each phase nested and alone; else the plan, and with a
    # frontier and a secondary order one more round kept for solving its chosen point again
    in_turn = 2 * len(oc.phases) if oc.phases else (2 if n_points and oc.secondary else 1)
    clock = StageClock(deadline, side_by_side + in_turn, settings.PARALLEL_SOLVES)
    # curve sizes and frontier points: served is the primary objective; only capital
    # cost breaks ties there (the plan gets the full secondary order)
    tie = "cost" if oc.secondary else False

    def solve(model: PlanModel, *, last: bool = False) -> SolveResult:
        given = options.but(time_limit=clock.limit(last=last))
        return solved(model, given, cache_root=cache_root)

    def curve_point(p: int) -> SolveResult:
        return solve(request.model(p=p, budget=budget, secondary=tie))

    def frontier_point(n_dc: int | None, cap: float | None) -> SolveResult | None:
        # a point with a set number of new DC stations has its cost set too: no cost
        # term to resolve; the budget point minimises cost after served
        sec = tie if n_dc is None else False
        model = request.model(budget=cap, max_dc=n_dc, secondary=sec, dc_exact=True)
        try:
            return solve(model)
        except InfeasibleError as exc:  # e.g. equity shares no all-AC plan can meet
            log.info("frontier: no plan with %s new DC stations (%s)", n_dc, exc)
            return None

    curve_jobs = {p: pool.submit(curve_point, p) for p in sizes}
    frontier, chosen, phases = None, None, None
    if oc.phases:
        phases = _phases(request, budget, options, clock.limit())
        result = next(ph.result for ph in phases if ph.p == oc.p)
    elif costed:
        frontier = cost_frontier(
            frontier_point,
            n_new=oc.p - len(fixed),
            points=oc.choose.points,
            budget=budget,
            map_fn=pool.map,
            budgets=budgets,
        )
        chosen = choose(
            frontier,
            oc.choose.rule,
            budget=budget,
            tolerance=oc.gap,
            max_marginal_cost=oc.choose.max_marginal_cost,
        )
        pick = frontier[chosen]
        # the plan: the chosen point again, with the full secondary order
        result = pick.result
        if oc.secondary:
            model = request.model(budget=pick.budget, max_dc=pick.max_dc, dc_exact=True)
            again = solve(model, last=True)
            # cut short by the time left, the solve again may serve less than the point
            # (its warm start holding the groups' equity): the point's plan then stays
            if again.objective >= pick.result.objective * (1 - request.options.gap) - 1e-9:
                result = again
            else:
                log.info(
                    "plan: the chosen point solved again serves %.6g, less than its %.6g: "
                    "the point's plan kept, in the final order",
                    again.objective,
                    pick.result.objective,
                )
                if isinstance(model, CapacitatedCoverage):
                    result = model.in_final_order(pick.result)
            # the chosen point is the plan: its row shows the plan's figures (the final
            # order may have moved its stations)
            frontier[chosen] = dataclasses.replace(pick, result=result)
    else:
        result = solve(request.model(budget=budget), last=True)
    alone = {p: job.result() for p, job in curve_jobs.items()}
    return Decision(result, alone, phases, capacity, costs, frontier, chosen, site_cap)


def _design_budgets(request: Request) -> list[float] | None:
    """With station designs, the frontier's budgets: from every new station of the
    cheapest design to every one of the dearest, at the cheapest and dearest sites
    (see :func:`siting.frontier.budget_steps`); None without designs."""
    if request.designs is None:
        return None
    oc = request.optimize_config
    n_new = oc.p - len(request.existing)
    costs = sorted(spec.cost for spec in request.designs.specs)
    extra = np.zeros(len(request.inputs.candidates))
    if request.designs.site_cost is not None:
        extra = np.sort(np.delete(request.designs.site_cost, request.existing))
    low = n_new * costs[0] + float(extra[:n_new].sum())
    high = n_new * costs[-1] + float(extra[::-1][:n_new].sum())
    return budget_steps(low, high, oc.choose.points)


def _phases(
    request: Request, budget: float | None, options: SolveOptions, time_limit: float | None
) -> list[Phase]:
    """The nested phases of ``optimize.phases``, each also solved alone."""
    oc = request.optimize_config
    return phased_plan(
        lambda p, keep: request.model(p=p, fixed=keep, budget=budget),
        sorted(oc.phases or []),
        request.existing,
        maximize=oc.model != "pmedian",
        solver=options.but(time_limit=time_limit),
    )


def minimum_plans(
    requests: Mapping[str, Request],
    *,
    cache_root: Path | None = None,
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """The minimum plan for each preset's request and each target (an explained row
    when out of reach).

    Each depends only on the instance (demand, reach, capacities, costs, existing
    stations) and the solver options, so with ``cache_root`` it is cached under a
    hash of them: a warm run does not solve it again (unless it was cut short by
    ``deadline``, the end of the optimise stage). It needs nothing from the plan, so
    a run may solve it beside :func:`decide`.
    """
    rows: list[dict[str, Any]] = []
    clock = StageClock(deadline)
    for preset, request in requests.items():
        mc = request.optimize_config.minimum
        if mc is None:
            continue
        limit = request.time_limit("minimum")
        most: dict[str, Any] = {}  # the most any plan serves: one LP per preset
        for target in mc.targets:
            model = request.minimum(target, most_served=most)
            key = _minimum_key(model, request.options, limit) if cache_root is not None else None
            cached = _cache.load(cache_root, "minimum", key) if key and cache_root else None
            if isinstance(cached, dict):
                rows.append(cached)
                continue
            row, cut = _minimum_row(model, preset, request, clock, limit)
            rows.append(row)
            # a solve the stage's deadline cut short is not what the key promises
            if key and cache_root and not cut:
                _cache.save(cache_root, "minimum", key, row)
    return rows


def _minimum_row(
    model: MinimumPlan, preset: str, request: Request, clock: StageClock, limit: float
) -> tuple[dict[str, Any], bool]:
    """Solve one minimum plan within ``limit`` seconds and by the end of ``clock``: its
    row, and whether it must not be cached (the stage's deadline cut the solve short
    or left it no time, or it found no plan)."""
    row: dict[str, Any] = {
        "preset": preset,
        "target_share": model.target,
        "form": "capacitated" if model.capacity else "set covering",
        "objective": model.objective,
        "reachable_sessions_day": round(model.reachable(), 3),
    }
    left = clock.left()
    if left is not None and left <= 0:
        row.update(
            status="not solved",
            explanation="minimum plan: the optimise stage's time limit "
            f"(optimize.time_limit_s = {request.optimize_config.time_limit_s:g} s) ran out "
            "before it",
        )
        return row, True
    given = clock.limit(cap=limit)
    try:
        res = model.solve(request.options.but(time_limit=given))
    except InfeasibleError as exc:
        row.update(status="infeasible", explanation=str(exc))
        return row, False
    except SolverError as exc:  # no plan found in the time it had: never cached, as
        # another machine (or this one less loaded) may find one in the same time
        row.update(status="not solved", explanation=f"minimum plan: {exc}")
        return row, True
    x = res.extra
    types = np.asarray(x.get("chargers", x.get("types", [])))
    row.update(
        status=res.status,
        gap=res.gap,
        stations=int(x["stations"]),
        stations_new=int(x["stations"]) - len(model.fixed),
        stations_ac=int((types == "AC").sum()),
        stations_dc=int((types == "DC").sum()),
        **(
            {
                "stations_by_design": {
                    str(n): int(k)
                    for n, k in zip(*np.unique(x["designs"], return_counts=True), strict=True)
                }
            }
            if "designs" in x and model.base is not None
            else {}
        ),
        capital_cost=round(float(x["cost"]), 2) if x.get("cost") is not None else None,
        # what the solver proved: no plan meeting the target costs less (or has fewer)
        lower_bound=None if res.bound is None else round(float(res.bound), 2),
        served_sessions_day=round(float(x["served"]), 3),
        required_sessions_day=round(float(x["required"]), 3),
        result=res,
        solve_s=round(res.solve_s + res.build_s, 3),
    )
    cut = given is not None and given < limit - 1e-9 and res.status != "optimal"
    return row, cut


def _minimum_key(model: MinimumPlan, options: SolveOptions, limit: float) -> str:
    """The cache key of a minimum plan: its instance, the solver options and ``limit``."""
    nb = model.neighbours
    parts = [nb.indptr, nb.indices, model.ac, model.dc, model.fixed]
    if model.base is not None:  # with designs: every class's demand, reach, site costs
        b = model.base
        parts += [b.demand, b.site_cost, b.min_share, np.array([b.class_equity])]
        parts += [a for m in b.class_nb for a in (m.indptr, m.indices)]
    digests = [array_digest(a) for a in parts]
    return hash_key(
        "minimum",
        _MINIMUM_CACHE_FORMAT,
        digests,
        model.target,
        model.objective,
        sorted((model.capacity or {}).items()),
        sorted(model.station_cost.items()),
        sorted(model.site_capacity.items()),
        None if model.base is None else sorted(map(repr, model.base.designs.values())),
        None if model.base is None else sorted(map(repr, model.base.site_design.values())),
        options.solver,
        options.gap,
        limit,
    )
