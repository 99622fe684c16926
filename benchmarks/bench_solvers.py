"""One plan whatever the solver: HiGHS and CBC on the shipped scenarios.

Each scenario's plan is decided twice in one process, as a run decides it (the
frontier, curve sizes and the plan, :func:`siting.planning.decide`), once with
``optimize.solver = "highs"`` and once with ``"cbc"``, no cache. Printed: each
plan's figures and the share of stations (and of stations with their design) the
two plans have in common.

Usage::

    .venv/bin/python -m benchmarks.bench_solvers
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from siting.demand import Demand
    from siting.results import Inputs
    from siting.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("almaty.toml", "almaty-mixed.toml")


def plan_of(sc: Scenario, inputs: Inputs, need: Demand, solver: str) -> dict[str, Any]:
    """The plan of scenario ``sc`` on its inputs, decided with ``solver``."""
    from siting.planning import decide
    from siting.request import Request

    sc = sc.with_overrides({"optimize.solver": solver})
    t0 = time.perf_counter()
    decision = decide(Request.of_scenario(sc, inputs, need))
    seconds = time.perf_counter() - t0
    res = decision.result
    x = res.extra
    designs = [str(d) for d in x.get("designs", x.get("types", []))]
    order = x.get("final_order") or {}
    return {
        "solver": solver,
        "status": res.status,
        "gap": res.gap,
        "stopped_by": res.stopped_by,
        "stations": len(res.selected),
        "by_design": dict(zip(*np.unique(designs, return_counts=True), strict=True)),
        "served": round(float(res.objective), 3),
        "covered": round(float(order.get("covered_after", x.get("covered", float("nan")))), 3),
        "cost": round(float(x.get("cost", 0.0)), 0),
        "moved": order.get("moved"),
        "exchanges": order.get("exchanges", 0),
        "seconds": round(seconds, 1),
        "sites": dict(zip(res.selected.tolist(), designs, strict=True)),
    }


def measure(scenarios: tuple[str, ...] = SCENARIOS) -> list[dict[str, Any]]:
    """Both solvers on each scenario (its inputs and demand prepared once), and how
    much their plans share."""
    from siting.demand import demand_stage
    from siting.pipeline import prepare
    from siting.scenario import load_scenario

    warnings.filterwarnings("ignore")
    logging.getLogger("siting").setLevel(logging.WARNING)
    rows = []
    for name in scenarios:
        sc = load_scenario(ROOT / "data" / name)
        inputs = prepare(sc)
        need = demand_stage(sc, inputs, by_district=False)
        a, b = (plan_of(sc, inputs, need, s) for s in ("highs", "cbc"))
        same_site = set(a["sites"]) & set(b["sites"])
        same_design = {j for j in same_site if a["sites"][j] == b["sites"][j]}
        n = max(a["stations"], b["stations"], 1)
        rows.append(
            {
                "scenario": name,
                "plans": [{k: v for k, v in p.items() if k != "sites"} for p in (a, b)],
                "shared_stations": len(same_site),
                "shared_share": round(len(same_site) / n, 4),
                "shared_with_design": len(same_design),
            }
        )
    return rows


def main() -> None:
    for row in measure():
        print(
            f"{row['scenario']}: {row['shared_stations']} stations shared "
            f"({100 * row['shared_share']:.1f}%), {row['shared_with_design']} with their design"
        )
        for p in row["plans"]:
            print(f"  {p}")


if __name__ == "__main__":
    main()
