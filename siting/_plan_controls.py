"""Private: what forcing and excluding sites cost (``candidates.force``,
``candidates.exclude``): the plan against the free optimum, the same request without
them, and the best single swaps of a forced site for one of the free optimum's
(``optimize.swaps``), each solved. Called by :func:`siting.planning.decide`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from siting._clock import StageClock
from siting._solve_cache import solved
from siting.errors import InputError
from siting.optimize import SolveResult
from siting.request import Request


def _swaps(
    request: Request, plan: SolveResult, best: SolveResult, deadline: float | None
) -> list[dict[str, Any]]:
    """The ``optimize.swaps`` single swaps of a forced site for a site of the free
    optimum, each solved: the forced sites serving least out, the free optimum's
    sites (not in the plan) serving most in, paired in that order; then all of them
    at once. Each row: out, in, sessions/day served and what it gains."""
    setup = request.designs
    if setup is None or setup.controls is None:
        raise InputError("candidates.force: swaps need forced sites (the designs form)")
    controls = setup.controls
    oc = request.optimize_config
    ids = request.inputs.candidates["site_id"].astype(str).to_numpy()
    forced = set(controls.forced.tolist())
    load_here = dict(
        zip(plan.selected.tolist(), np.asarray(plan.extra["load"]).tolist(), strict=True)
    )
    load_there = dict(
        zip(best.selected.tolist(), np.asarray(best.extra["load"]).tolist(), strict=True)
    )
    outs = sorted(
        (j for j in forced if j not in load_there), key=lambda j: (load_here.get(j, 0.0), j)
    )
    ins = sorted(
        (j for j in load_there if j not in load_here and j not in request.existing),
        key=lambda j: (-load_there[j], j),
    )
    pairs = list(zip(outs, ins, strict=False))[: oc.swaps]
    base = _sessions(plan)
    clock = StageClock(deadline, len(pairs) + 1)
    budget = oc.budget.total if oc.budget else None

    def served_with(out: list[int], add: list[int]) -> tuple[float, str]:
        moved = np.array(sorted((forced - set(out)) | set(add)), dtype=np.int64)
        swapped = dataclasses.replace(controls, forced=moved)
        req = dataclasses.replace(request, designs=dataclasses.replace(setup, controls=swapped))
        res = req.model(budget=budget).solve(request.options.but(time_limit=clock.limit()))
        return _sessions(res), res.status

    rows: list[dict[str, Any]] = []
    for a, b in pairs:
        served, status = served_with([a], [b])
        rows.append(
            {"out": str(ids[a]), "in": str(ids[b]), "served_sessions_day": round(served, 3),
             "gain_sessions_day": round(served - base, 3), "status": status}
        )  # fmt: skip
    if len(pairs) > 1:
        served, status = served_with([a for a, _ in pairs], [b for _, b in pairs])
        rows.append(
            {"out": "all above", "in": "all above", "served_sessions_day": round(served, 3),
             "gain_sessions_day": round(served - base, 3), "status": status}
        )  # fmt: skip
    return rows


def _sessions(res: SolveResult) -> float:
    """Sessions a day a capacitated plan serves (unweighted, every class)."""
    return float(np.asarray(res.extra["served_by_class"]).sum())


def controls_cost(
    request: Request,
    free: Request,
    plan: SolveResult,
    deadline: float | None,
    cache_root: Path | None,
) -> dict[str, Any]:
    """What forcing and excluding sites cost: the plan against the free optimum (the
    same request without them, solved in the time left to the stage)."""
    controls = request.designs.controls if request.designs is not None else None
    if controls is None:
        raise InputError("candidates.force, candidates.exclude: none given")
    oc = request.optimize_config
    budget = oc.budget.total if oc.budget else None
    options = request.options.but(time_limit=StageClock(deadline).limit(last=True))
    best = solved(free.model(budget=budget), options, cache_root=cache_root)
    ids = request.inputs.candidates["site_id"].astype(str).to_numpy()
    mine, theirs = set(plan.selected.tolist()), set(best.selected.tolist())
    swaps = _swaps(request, plan, best, deadline) if oc.swaps and len(controls.forced) else []
    return {
        "swaps": swaps,
        "forced": [str(ids[j]) for j in controls.forced],
        "excluded": len(controls.closed),
        "notes": list(controls.notes),
        "served_sessions_day": round(_sessions(plan), 3),
        "free_served_sessions_day": round(_sessions(best), 3),
        "free_status": best.status,
        "free_gap": best.gap,
        "capital_cost": round(float(plan.extra.get("cost", 0.0)), 2),
        "free_capital_cost": round(float(best.extra.get("cost", 0.0)), 2),
        "sites_differ": len(mine ^ theirs) // 2,
    }
