"""Plans across futures (part of stage 5): a robust plan, regret, what moves the plan.

:func:`futures_stage` answers ``[futures]``:

1. the futures: each adoption preset listed, and ``draws`` seeded random draws
   over ``ranges`` (scenario fields, each uniform between its low and high);
2. the robust plan (:class:`siting.optimize.futures.robust.RobustPlan`): the best worst
   (or mean) share served over the futures, with the run's station count and its
   plan's AC/DC mix;
3. each future's own best plan, each evaluated in every future: the regret of the
   robust plan in a future is what its own plan serves there more, and each site
   counts the futures whose own plan holds it;
4. the sensitivity: each assumption of ``ranges`` at its low and its high, the plan
   solved again: how far the share served moves, and what share of the run's
   stations that plan keeps (the tornado plot).

The independent solves (steps 3 and 4) are tasks: on a ``dask.distributed``
client when one is given (the sweep's machinery), else one after another.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from siting._invariants import present
from siting.demand import Demand, demand_stage
from siting.errors import InputError
from siting.optimize import CapacitatedCoverage, SolveOptions, SolveResult
from siting.optimize.futures.robust import RobustPlan, RobustResult, plan_share
from siting.request import Request
from siting.results import Decision, Inputs
from siting.scenario import Scenario

log = logging.getLogger(__name__)


def futures_report(
    sc: Scenario, inputs: Inputs, need: Demand, decision: Decision, *, client: Any | None = None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The stage: :func:`futures_stage` for the run's plan and its AC/DC mix (the
    chosen frontier point's number of new DC stations), with sites by candidate id;
    and the sites of the futures' own plans with their places, for the map."""
    max_dc = None
    if decision.frontier is not None and decision.chosen is not None:
        max_dc = decision.frontier[decision.chosen].max_dc
    out = futures_stage(sc, inputs, need, decision.result, max_dc=max_dc, client=client)
    cand = inputs.candidates
    ids = cand["site_id"].astype(str).to_numpy()
    sites = pd.DataFrame(out["sites"])
    if len(sites):
        idx = sites["site"].to_numpy()
        sites["site"] = ids[idx]
        sites["lon"] = cand["lon"].to_numpy()[idx]
        sites["lat"] = cand["lat"].to_numpy()[idx]
    out["sites"] = sites.to_dict("records")
    frame = sites.rename(columns={"site": "site_id"}).assign(futures=len(out["futures"]))
    return out, frame


def future_list(sc: Scenario) -> list[tuple[str, dict[str, Any]]]:
    """The futures of ``sc``: (name, scenario overrides), presets first."""
    fc = sc.futures
    if fc is None:
        raise InputError("sc: future_list needs a scenario with [futures]")
    out: list[tuple[str, dict[str, Any]]] = [
        (f"preset:{p}", {"demand.preset": p}) for p in fc.presets
    ]
    rng = np.random.default_rng(fc.seed)
    for k in range(fc.draws):
        draw = {key: float(rng.uniform(lo, hi)) for key, (lo, hi) in sorted(fc.ranges.items())}
        out.append((f"draw:{k + 1}", draw))
    return out


def _model(
    sc: Scenario, inputs: Inputs, overrides: dict[str, Any], base: Demand, max_dc: int | None
) -> CapacitatedCoverage:
    """The plan's model in the future ``overrides`` describe (same count and mix)."""
    other = sc.with_overrides(overrides) if overrides else sc
    need = demand_stage(other, inputs, by_district=False) if overrides else base
    if not np.array_equal(need.points["h3"].to_numpy(), base.points["h3"].to_numpy()):
        key = next(iter(overrides), "futures")
        raise ValueError(f"futures: {key} puts demand on other cells than the scenario's")
    oc = other.optimize
    budget = oc.budget.total if oc.budget else None
    request = Request.of_scenario(other, inputs, need)
    return request.capacitated(budget=budget, max_dc=max_dc, dc_exact=max_dc is not None)


def _own(
    model: CapacitatedCoverage, options: SolveOptions
) -> tuple[np.ndarray, np.ndarray, str, float]:
    """A future's own best plan: stations, their types, the solve's status and the
    share of the future's demand it serves."""
    res = model.solve(options)
    total = float(model.demand.sum())
    share = float(res.extra["served_by_class"].sum()) / total if total > 0 else 1.0
    return res.selected, np.asarray(res.extra["types"]), res.status, share


def _share(model: CapacitatedCoverage, plan: tuple[np.ndarray, np.ndarray], solver: Any) -> float:
    return plan_share(model, plan[0], plan[1], solver=solver)


def _map(client: Any | None) -> Callable[..., list[Any]]:
    """``map(fn, *iterables)`` on the client (gathered, in order), else in turn."""
    if client is None:
        return lambda fn, *its: [fn(*args) for args in zip(*its, strict=True)]

    def on_dask(fn: Callable[..., Any], *its: Sequence[Any]) -> list[Any]:
        return list(client.gather(client.map(fn, *its, pure=False)))

    return on_dask


def futures_stage(
    sc: Scenario,
    inputs: Inputs,
    need: Demand,
    plan: SolveResult,
    *,
    max_dc: int | None = None,
    client: Any | None = None,
) -> dict[str, Any]:
    """Answer ``[futures]`` for the run's ``plan`` (see the module docstring)."""
    fc = sc.futures
    if fc is None:
        raise InputError("sc: futures_stage needs a scenario with [futures]")
    t0 = time.perf_counter()
    futures = future_list(sc)
    models = [_model(sc, inputs, ov, need, max_dc) for _, ov in futures]
    request = Request.of_scenario(sc, inputs, need)
    options = request.options
    robust = RobustPlan(models, criterion=fc.criterion, quantile=fc.quantile).solve(
        options.but(time_limit=request.time_limit())
    )
    pmap = _map(client)
    own_options = options.but(time_limit=request.time_limit("future"))
    own = pmap(_own, models, [own_options] * len(models))
    pairs = [(a, b) for a in range(len(own)) for b in range(len(models))]
    cross = pmap(
        _share,
        [models[b] for _, b in pairs],
        [own[a][:2] for a, _ in pairs],
        [options.solver] * len(pairs),
    )
    matrix = np.array(cross).reshape(len(own), len(models))  # own plan of a, in future b
    robust = _at_least_own(robust, own, matrix, fc.criterion, [name for name, _ in futures])
    plan_types = np.asarray(plan.extra.get("types", ["AC"] * len(plan.selected)))
    run_shares = [plan_share(m, plan.selected, plan_types, solver=options.solver) for m in models]
    sensitivity = _sensitivity(sc, inputs, need, plan, plan_types, max_dc, own_options, pmap)
    log.info(
        "futures: %d futures, robust %s %.4f (%s), %d sensitivity solves, %.2f s",
        len(futures),
        fc.criterion,
        robust.objective,
        robust.status,
        2 * len(fc.ranges),
        time.perf_counter() - t0,
    )
    in_robust, in_plan = set(robust.selected.tolist()), set(plan.selected.tolist())
    base = _model(sc, inputs, {}, need, max_dc)
    return {
        "criterion": fc.criterion,
        # the run's plan under the scenario's own assumptions, the tornado's centre
        "base_share": float(plan_share(base, plan.selected, plan_types, solver=options.solver)),
        "rationale": fc.rationale,
        "robust": {
            "objective": robust.objective,
            "status": robust.status,
            "gap": robust.gap,
            "stopped_by": robust.stopped_by,
            "stations": len(robust.selected),
            "kept_from_plan": len(in_robust & in_plan),
        },
        "futures": _future_rows(futures, models, matrix, robust, own, run_shares),
        "sites": _site_rows(own, in_robust, in_plan),
        "sensitivity": sensitivity,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _at_least_own(
    robust: RobustResult,
    own: list[tuple[np.ndarray, np.ndarray, str, float]],
    matrix: np.ndarray,
    criterion: str,
    names: list[str],
) -> RobustResult:
    """The robust plan, or a future's own plan where that one does better by the
    criterion (a robust solve stopped by its time limit may): every own plan is a plan
    of the robust model, so the better one is taken, and said so."""
    if criterion not in ("worst", "mean") or not len(own):
        return robust
    value = matrix.min(axis=1) if criterion == "worst" else matrix.mean(axis=1)
    a = int(np.argmax(value))
    if value[a] <= robust.objective + 1e-9:
        return robust
    why = f"{names[a]}'s own plan does better than the integer program's plan"
    stopped = f"{robust.stopped_by}; {why}" if robust.stopped_by else why
    gap = None
    if robust.bound is not None and value[a] > 0:
        gap = max(0.0, (robust.bound - float(value[a])) / float(value[a]))
    return dataclasses.replace(
        robust,
        selected=own[a][0],
        types=own[a][1],
        shares=matrix[a].copy(),
        objective=float(value[a]),
        gap=gap,
        status="feasible",
        stopped_by=stopped,
    )


def _future_rows(
    futures: list[tuple[str, dict[str, Any]]],
    models: list[CapacitatedCoverage],
    matrix: np.ndarray,
    robust: RobustResult,
    own: list[tuple[np.ndarray, np.ndarray, str, float]],
    run_shares: list[float],
) -> list[dict[str, Any]]:
    """One row per future: its demand, the robust plan's, its own plan's and the run's
    plan's shares there, the robust plan's regret and its own plan's worst share."""
    rows = []
    for k, (name, ov) in enumerate(futures):
        best = max(matrix[k, k], robust.shares[k])
        rows.append(
            {
                "future": name,
                **{f"set:{key}": v for key, v in ov.items()},
                "demand_sessions_day": round(float(models[k].demand.sum()), 3),
                "robust_share": round(float(robust.shares[k]), 6),
                "own_share": round(float(matrix[k, k]), 6),
                "own_status": own[k][2],
                "plan_share": round(float(run_shares[k]), 6),
                "regret": round(float(best - robust.shares[k]), 6),
                "own_worst_share": round(float(matrix[k].min()), 6),
            }
        )
    return rows


def _site_rows(
    own: list[tuple[np.ndarray, np.ndarray, str, float]], in_robust: set[int], in_plan: set[int]
) -> list[dict[str, Any]]:
    """Each site in any future's own plan, the robust plan or the run's plan: in how
    many own plans it stands, and whether the robust and the run's plan keep it."""
    counts: dict[int, int] = {}
    for selected, *_ in own:
        for j in selected.tolist():
            counts[int(j)] = counts.get(int(j), 0) + 1
    return [
        {"site": j, "own_plans": counts.get(j, 0), "robust": j in in_robust, "plan": j in in_plan}
        for j in sorted(set(counts) | in_robust | in_plan)
    ]


def _sensitivity(
    sc: Scenario,
    inputs: Inputs,
    need: Demand,
    plan: SolveResult,
    plan_types: np.ndarray,
    max_dc: int | None,
    options: SolveOptions,
    pmap: Callable[..., list[Any]],
) -> list[dict[str, Any]]:
    """Each assumption at its low and high: the plan's share there, the share of its
    own best plan, and the share of the run's stations that plan keeps."""
    fc = present(sc.futures, "sc.futures")  # futures_stage checked it
    ends = [(key, end, v) for key, lo_hi in sorted(fc.ranges.items()) for end, v in
            zip(("low", "high"), lo_hi, strict=True)]  # fmt: skip
    models = [_model(sc, inputs, {key: v}, need, max_dc) for key, _, v in ends]
    own = pmap(_own, models, [options] * len(models))
    base = set(plan.selected.tolist())
    rows = []
    for (key, end, value), model, (selected, _, status, share) in zip(
        ends, models, own, strict=True
    ):
        rows.append(
            {
                "assumption": key,
                "end": end,
                "value": value,
                "demand_sessions_day": round(float(model.demand.sum()), 3),
                "plan_share": round(
                    plan_share(model, plan.selected, plan_types, solver=options.solver), 6
                ),
                "own_share": round(share, 6),
                "own_status": status,
                "stations_kept": round(len(base & set(selected.tolist())) / max(len(base), 1), 6),
            }
        )
    return rows
