"""Plans across futures: multi-year staging on growing demand (part of stage 5).

:func:`staged_plan` answers ``[optimize.staging]``: one capacitated model for all
the stages (:class:`siting.optimize.StagedPlan`), each stage's demand from its
adoption preset, stations never removed; then each stage planned alone for its
regret. The run reports it beside its plan (``stages.csv``, ``staged_sites.csv``,
``kpis.json["staging"]``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from siting._clock import StageClock
from siting._invariants import present
from siting.costs import station_costs
from siting.demand import Demand, demand_stage
from siting.errors import InputError, ScenarioError
from siting.optimize.futures.staged import StagedPlan, stage_regret
from siting.results import Inputs
from siting.scenario import Scenario, load_presets

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
    sc: Scenario, inputs: Inputs, need: Demand, *, deadline: float | None
) -> dict[str, Any]:
    """Solve ``[optimize.staging]`` by ``deadline``; its report (see the module docstring).

    The staged model gets half the time left, the stages planned alone (for the
    regret) the rest, each its share.
    """
    oc = sc.optimize
    if oc.staging is None:
        raise InputError("sc: staged_plan needs a scenario with [optimize.staging]")
    t0 = time.perf_counter()
    stages = oc.staging.stages
    demands = stage_demands(sc, inputs, need)
    weights = oc.staging.weights()
    plan = StagedPlan.from_inputs(
        inputs,
        demands,
        oc,
        sizes=[s.p for s in stages],
        budgets=[s.budget for s in stages],
        weights=weights,
        labels=[str(s.year) for s in stages],
        station_cost=station_costs(sc.costs, oc.capacity),
    )
    clock = StageClock(deadline, 2)
    opts: dict[str, Any] = {"solver": oc.solver, "gap": oc.gap, "threads": oc.threads}
    res = plan.solve(**opts, time_limit=clock.limit())
    regret_clock = StageClock(deadline, len(stages))
    regret = stage_regret(plan, res, **opts, time_limit=regret_clock.limit())
    rows = []
    for k, (cfg, stage, model, reg) in enumerate(
        zip(stages, res.stages, plan.models, regret, strict=True)
    ):
        is_open = np.zeros(model.neighbours.shape[1])
        is_open[stage.selected] = 1.0
        hit = (model.neighbours @ is_open) > 0
        weight = model.ac + model.dc
        rows.append(
            {
                "year": cfg.year,
                "preset": demands[k].preset,
                "p": cfg.p,
                "budget": cfg.budget,
                "weight": round(stage.weight, 6),
                "stations_added": stage.added,
                "stations_ac": int((stage.types == "AC").sum()),
                "stations_dc": int((stage.types == "DC").sum()),
                "demand_sessions_day": round(stage.demand, 3),
                "served_sessions_day": round(stage.served, 3),
                "served_share": round(stage.served / stage.demand, 6) if stage.demand else 0.0,
                "covered_share": round(float(weight[hit].sum() / weight.sum()), 6)
                if weight.sum()
                else 0.0,
                "capital_cost_to_date": round(stage.capital_cost, 2),
                "capital_cost_added": round(
                    stage.capital_cost - (res.stages[k - 1].capital_cost if k else 0.0), 2
                ),
                "served_alone_sessions_day": round(reg["served_alone"], 3),
                "alone_status": reg["alone_status"],
                "regret": round(reg["regret"], 6),
                "sites_shared_with_alone": reg["sites_shared"],
            }
        )
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
