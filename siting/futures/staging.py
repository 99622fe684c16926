"""Plans across futures: multi-year staging on growing demand (part of stage 5).

:func:`staged_plan` answers ``[optimize.staging]``: one capacitated model for all
the stages (:class:`siting.optimize.StagedPlan`, built by :func:`siting.request.staged`),
each stage's demand from its adoption preset, stations never removed; then each
stage planned alone for its regret. The run reports it beside its plan
(``stages.csv``, ``staged_sites.csv``, ``kpis.json["staging"]``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from siting._clock import StageClock
from siting._invariants import present
from siting.demand import Demand, demand_stage
from siting.errors import InputError, ScenarioError
from siting.optimize import CapacitatedCoverage
from siting.optimize.futures.staged import StagedPlan, StagedResult, stage_regret
from siting.request import Request, staged
from siting.results import Inputs
from siting.scenario import Scenario, load_presets
from siting.sections import StageConfig, StagingConfig

log = logging.getLogger(__name__)


def stage_demands(sc: Scenario, inputs: Inputs, need: Demand) -> list[Demand]:
    """Each stage's demand: its preset's on the run's cells (the run's own when the
    stage names none or the run's preset)."""
    staging = sc.optimize.staging
    if staging is None:
        raise InputError("sc: stage_demands needs a scenario with [optimize.staging]")
    path = present(
        sc.resolve(sc.demand.presets_file, field="demand.presets_file"), "demand.presets_file"
    )
    known = load_presets(path)
    cache: dict[str, Demand] = {need.preset: need}
    out: list[Demand] = []
    for k, stage in enumerate(staging.stages):
        preset = stage.preset or need.preset
        if preset not in known:
            raise ScenarioError(
                f"optimize.staging.stages[{k}].preset: unknown preset {preset!r}; "
                f"known: {', '.join(known)}"
            )
        if preset not in cache:
            other = sc.with_overrides({"demand.preset": preset})
            cache[preset] = demand_stage(other, inputs, by_district=False)
        got = cache[preset]
        if not np.array_equal(got.points["h3"].to_numpy(), need.points["h3"].to_numpy()):
            raise ScenarioError(
                f"optimize.staging.stages[{k}].preset: {preset!r} puts demand on other cells "
                "than the scenario's preset (a segment with no EVs); give every segment a "
                "share above 0"
            )
        out.append(got)
    return out


def staged_plan(
    sc: Scenario,
    inputs: Inputs,
    need: Demand,
    *,
    deadline: float | None,
    request: Request | None = None,
) -> dict[str, Any]:
    """Solve ``[optimize.staging]`` by ``deadline``; its report (see the module docstring).

    ``request`` is the run's request on ``need`` (built from ``sc`` when not given);
    the stages on other presets get theirs with its station costs. The staged model
    gets half the time left, the stages planned alone (for the regret) the rest,
    each its share.
    """
    oc = sc.optimize
    if oc.staging is None:
        raise InputError("sc: staged_plan needs a scenario with [optimize.staging]")
    t0 = time.perf_counter()
    stages = oc.staging.stages
    demands = stage_demands(sc, inputs, need)
    if request is None:
        request = Request.of_scenario(sc, inputs, need)
    plan = _staged_model(request, demands, oc.staging)
    clock = StageClock(deadline, 2)
    options = request.options
    res = plan.solve(options.but(time_limit=clock.limit()))
    regret_clock = StageClock(deadline, len(stages))
    regret = stage_regret(plan, res, solver=options.but(time_limit=regret_clock.limit()))
    rows = [
        _stage_row(k, cfg, demands[k].preset, res, model, reg)
        for k, (cfg, model, reg) in enumerate(zip(stages, plan.models, regret, strict=True))
    ]
    last = res.stages[-1]
    sites = [
        {"site": int(j), "station_type": str(t), "year_built": stages[res.built[int(j)]].year}
        for j, t in zip(last.selected.tolist(), last.types.tolist(), strict=True)
    ]
    log.info(
        "staging: %d stages, %s (gap %s), %.2f s",
        len(stages),
        res.status,
        "n/a" if res.gap is None else f"{100 * res.gap:.2f}%",
        time.perf_counter() - t0,
    )
    return {
        "status": res.status,
        "gap": res.gap,
        "stopped_by": res.stopped_by,
        "solver": res.solver,
        "objective": res.objective,
        "bound": res.bound,
        "discount": oc.staging.discount,
        "rationale": oc.staging.rationale,
        "seconds": round(time.perf_counter() - t0, 3),
        "stages": rows,
        "sites": sites,
    }


def _staged_model(request: Request, demands: list[Demand], staging: StagingConfig) -> StagedPlan:
    """The staged model: the run's ``request`` for its own demand, a request with the
    same ``[optimize]`` section and station costs for each other stage's demand."""
    oc, cost = request.optimize_config, request.station_cost
    stages = staging.stages
    return staged(
        [
            request
            if d is request.demand
            else Request.from_run(request.inputs, d, oc, station_cost=cost, designs=request.designs)
            for d in demands
        ],
        sizes=[s.p for s in stages],
        budgets=[s.budget for s in stages],
        weights=staging.weights(),
        labels=[str(s.year) for s in stages],
    )


def _stage_row(
    k: int,
    cfg: StageConfig,
    preset: str,
    res: StagedResult,
    model: CapacitatedCoverage,
    reg: dict[str, Any],
) -> dict[str, Any]:
    """The row of stage ``k`` in ``stages.csv``: what it adds, serves and costs, and its
    regret against the stage planned alone (``reg``)."""
    stage = res.stages[k]
    # with designs the types are design names: count them by their charger
    chargers = np.array([model.charger_of(str(t)) for t in stage.types], dtype=str)
    is_open = np.zeros(model.neighbours.shape[1])
    is_open[stage.selected] = 1.0
    hit = (model.neighbours @ is_open) > 0
    weight = model.weights
    return {
        "year": cfg.year,
        "preset": preset,
        "p": cfg.p,
        "budget": cfg.budget,
        "weight": round(stage.weight, 6),
        "stations_added": stage.added,
        "stations_ac": int((chargers == "AC").sum()),
        "stations_dc": int((chargers == "DC").sum()),
        "demand_sessions_day": round(stage.demand, 3),
        "served_sessions_day": round(stage.served, 3),
        "served_share": round(stage.served / stage.demand, 6) if stage.demand else 0.0,
        "covered_share": round(float(weight[hit].sum() / weight.sum()), 6) if weight.sum() else 0.0,
        "capital_cost_to_date": round(stage.capital_cost, 2),
        "capital_cost_added": round(
            stage.capital_cost - (res.stages[k - 1].capital_cost if k else 0.0), 2
        ),
        "served_alone_sessions_day": round(reg["served_alone"], 3),
        "alone_status": reg["alone_status"],
        "regret": round(reg["regret"], 6),
        "sites_shared_with_alone": reg["sites_shared"],
    }
