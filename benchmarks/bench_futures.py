"""Plans across futures on the Almaty default: the three-stage plan and the robust plan.

The staged plan builds 311 stations for today, 622 by 2027 (growth-2027) and 800 by
2030 (growth-2030), weights discounted at 5 % a year, in one program
(:class:`siting.optimize.StagedPlan`); then each stage alone for the regret. The
robust plan keeps the default's 311 stations and its AC/DC mix (the knee: no new DC)
and maximises the worst share served over the three presets
(:class:`siting.optimize.futures.robust.RobustPlan`), beside each preset's own plan. The
inputs (graph, cells, candidates, travel times) come from the cache and are not timed.

Usage::

    .venv/bin/python -m benchmarks.bench_futures [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

STAGES = [
    {"year": 2025, "p": 311},
    {"year": 2027, "p": 622, "preset": "growth-2027"},
    {"year": 2030, "p": 800, "preset": "growth-2030"},
]
PRESETS = ["today", "growth-2027", "growth-2030"]


def measure() -> dict[str, Any]:
    """Solve both on the Almaty default; figures and seconds."""
    from siting import settings
    from siting.costs import station_costs
    from siting.futures.staging import stage_demands
    from siting.optimize import stage_regret
    from siting.optimize.futures.robust import RobustPlan
    from siting.pipeline import prepare
    from siting.request import Request, staged
    from siting.scenario import load_scenario

    warnings.filterwarnings("ignore")
    logging.getLogger("siting").setLevel(logging.WARNING)
    base = load_scenario(settings.DEFAULT_SCENARIO)
    sc = base.with_overrides({"optimize.staging": {"discount": 0.05, "stages": STAGES}})
    inputs = prepare(sc)
    from siting.demand import demand_stage

    need = demand_stage(sc, inputs, by_district=False)
    oc = sc.optimize
    assert oc.staging is not None
    costs = station_costs(sc.costs, oc.capacity)
    t0 = time.perf_counter()
    demands = stage_demands(sc, inputs, need)
    plan = staged(
        [Request.from_run(inputs, d, oc, station_cost=costs) for d in demands],
        sizes=[s.p for s in oc.staging.stages],
        budgets=[s.budget for s in oc.staging.stages],
        weights=oc.staging.weights(),
        labels=[str(s.year) for s in oc.staging.stages],
    )
    solved = plan.solve(oc.solver, time_limit=oc.time_limit_s, gap=oc.gap)
    staged_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    regret = stage_regret(plan, solved, solver=oc.solver, gap=oc.gap, time_limit=oc.time_limit_s)
    regret_s = time.perf_counter() - t1
    stages = [
        {
            "year": s.label,
            "p": s.p,
            "added": s.added,
            "dc": int((s.types == "DC").sum()),
            "demand": round(s.demand, 1),
            "served": round(s.served, 1),
            "share": round(s.served / s.demand, 4),
            "regret": round(r["regret"], 6),
            "alone_status": r["alone_status"],
        }
        for s, r in zip(solved.stages, regret, strict=True)
    ]
    # the robust plan over the presets, with the default plan's mix (no new DC)
    models = []
    for preset in PRESETS:
        other = base.with_overrides({"demand.preset": preset})
        request = Request.from_run(
            inputs,
            demand_stage(other, inputs, by_district=False),
            other.optimize,
            station_cost=costs,
        )
        models.append(request.capacitated(max_dc=0, dc_exact=True, secondary=False))
    t2 = time.perf_counter()
    robust = RobustPlan(models, criterion="worst").solve(oc.solver, time_limit=120, gap=oc.gap)
    robust_s = time.perf_counter() - t2
    return {
        "staged": {
            "status": solved.status,
            "gap": solved.gap,
            "seconds": round(staged_s, 2),
            "regret_seconds": round(regret_s, 2),
            "stages": stages,
        },
        "robust": {
            "status": robust.status,
            "gap": robust.gap,
            "seconds": round(robust_s, 2),
            "worst_share": round(robust.objective, 6),
            "shares": dict(zip(PRESETS, [round(float(x), 6) for x in robust.shares], strict=True)),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = measure()
    text = json.dumps(out, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
