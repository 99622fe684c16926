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
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from siting._invariants import present
from siting.demand import Demand, demand_stage
from siting.errors import InputError, ScenarioError, TimeLimitError
from siting.futures.viability import PlanFigures, plan_figures, plan_in_future, viability
from siting.optimize import CapacitatedCoverage, SolveOptions, SolveResult
from siting.optimize.futures.robust import RobustPlan, RobustResult, plan_share
from siting.request import Request
from siting.results import Decision, Inputs
from siting.scenario import Scenario, load_presets

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
        draw = {key: _drawn(rng, lo, hi) for key, (lo, hi) in sorted(fc.ranges.items())}
        out.append((f"draw:{k + 1}", draw))
    return out


def _drawn(rng: np.random.Generator, lo: float | str, hi: float | str) -> float | str:
    """A value drawn between ``lo`` and ``hi``: uniform for numbers, one of the two
    for names (``"demand.preset" = ["today", "growth-2030"]``)."""
    if isinstance(lo, str) or isinstance(hi, str):
        return (lo, hi)[int(rng.integers(2))]
    return float(rng.uniform(lo, hi))


def moves_demand(sc: Scenario, key: str, value: Any) -> bool:
    """Whether setting the scenario field ``key`` to ``value`` can change the demand or
    the model: not for a field of ``[economics]`` (it only prices what the stations
    serve), nor for the value the scenario already has."""
    if key.startswith("economics."):
        return False
    node: Any = sc.model_dump(mode="python")
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return True
        node = node[part]
    return bool(node != value)


def _model(
    sc: Scenario, inputs: Inputs, overrides: dict[str, Any], base: Demand, max_dc: int | None
) -> CapacitatedCoverage:
    """The plan's model in the future ``overrides`` describe (same count and mix)."""
    return _future(sc, inputs, overrides, base, max_dc)[2]


def _future(
    sc: Scenario, inputs: Inputs, overrides: dict[str, Any], base: Demand, max_dc: int | None
) -> tuple[Scenario, Demand, CapacitatedCoverage]:
    """The future ``overrides`` describe: its scenario, its demand and the plan's model
    there (same count and mix)."""
    other = sc.with_overrides(overrides) if overrides else sc
    need = demand_stage(other, inputs, by_district=False) if overrides else base
    if not np.array_equal(need.points["h3"].to_numpy(), base.points["h3"].to_numpy()):
        key = next(iter(overrides), "futures")
        raise ValueError(f"futures: {key} puts demand on other cells than the scenario's")
    oc = other.optimize
    budget = oc.budget.total if oc.budget else None
    request = Request.of_scenario(other, inputs, need)
    model = request.capacitated(budget=budget, max_dc=max_dc, dc_exact=max_dc is not None)
    return other, need, model


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
    _check_presets(sc)
    futures = future_list(sc)
    worlds = [_future(sc, inputs, ov, need, max_dc) for _, ov in futures]
    models = [m for _, _, m in worlds]
    request = Request.of_scenario(sc, inputs, need)
    options = request.options
    try:
        robust: RobustResult | None = RobustPlan(
            models, criterion=fc.criterion, quantile=fc.quantile
        ).solve(options.but(time_limit=request.time_limit()))
    except TimeLimitError as exc:
        log.warning(
            "futures: the robust plan's solve stopped before it found a plan (%s); the "
            "futures' own plan that does best by the criterion (%s) stands in for it",
            exc,
            fc.criterion,
        )
        robust = None
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
    names = [name for name, _ in futures]
    if robust is None:
        robust = _best_own(own, matrix, fc.criterion, fc.quantile, names)
    robust = _at_least_own(robust, own, matrix, fc.criterion, names)
    plan_types = np.asarray(plan.extra.get("types", ["AC"] * len(plan.selected)))
    base = _model(sc, inputs, {}, need, max_dc)
    # the run's plan under the scenario's own assumptions, the tornados' centre
    base_share = float(plan_share(base, plan.selected, plan_types, solver=options.solver))
    here = _Plan.of(sc, inputs, need, plan, plan_types, options.solver, share=base_share)
    in_futures = [
        here.there(other, fneed, m, same=not any(moves_demand(sc, k, v) for k, v in ov.items()))
        for (_, ov), (other, fneed, m) in zip(futures, worlds, strict=True)
    ]
    run_shares = [f.share for f in in_futures]
    # a range's end that is one of the futures (a preset) takes that future's own plan
    known = {
        _key(ov): (world, mine) for (_, ov), world, mine in zip(futures, worlds, own, strict=True)
    }
    sensitivity = _sensitivity(sc, inputs, need, here, max_dc, own_options, pmap, known)
    log.info(
        "futures: %d futures, robust %s %.4f (%s), %d sensitivity ends with own plans, %.2f s",
        len(futures),
        fc.criterion,
        robust.objective,
        robust.status,
        sum(not str(r["own_status"]).startswith("the run's plan") for r in sensitivity),
        time.perf_counter() - t0,
    )
    in_robust, in_plan = set(robust.selected.tolist()), set(plan.selected.tolist())
    rows = _future_rows(futures, models, matrix, robust, own, run_shares)
    for row, other, f in zip(rows, (w[0] for w in worlds), in_futures, strict=True):
        row.update(here.viable_columns(other, f))
    out: dict[str, Any] = {
        "criterion": fc.criterion,
        "base_share": base_share,
        "rationale": fc.rationale,
        "robust": {
            "objective": robust.objective,
            "status": robust.status,
            "gap": robust.gap,
            "stopped_by": robust.stopped_by,
            "stations": len(robust.selected),
            "kept_from_plan": len(in_robust & in_plan),
        },
        "futures": rows,
        "sites": _site_rows(own, in_robust, in_plan),
        "sensitivity": sensitivity,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if (now := here.viable(sc, here.figures)) is not None:
        # the run's plan at the scenario's own terms, the viability tornado's centre
        out["viability"] = {
            "base_viable": now["viable"],
            "stations_new": now["stations_new"],
            "base_capital_at_risk": now["capital_at_risk"],
            "currency": sc.economics_currency(),
            "note": "new stations of the run's plan that pay back within the lease "
            "([economics]); in a future with other demand the plan's stations, fixed, "
            "serve the most sessions with each group served its share under "
            "optimize.segment_equity, as in the run; a range over an [economics] field "
            "only reprices the run's own loads",
        }
    return out


#: A future's own plan: its stations, their designs, the solve's status and its share.
_Own = tuple[np.ndarray, np.ndarray, str, float]


def _key(overrides: dict[str, Any]) -> str:
    """The overrides of a future as one comparable text."""
    return repr(sorted((k, str(v)) for k, v in overrides.items()))


def _check_presets(sc: Scenario) -> None:
    """Every adoption preset ``[futures]`` names (``presets``, a ``demand.preset``
    range) is in the presets file, before any future is solved."""
    fc = present(sc.futures, "sc.futures")
    named = [("futures.presets", p) for p in fc.presets]
    named += [("futures.ranges.demand.preset", str(p)) for p in fc.ranges.get("demand.preset", [])]
    if not named:
        return
    path = present(
        sc.resolve(sc.demand.presets_file, field="demand.presets_file"), "demand.presets_file"
    )
    known = load_presets(path)
    for field, name in named:
        if name not in known:
            raise ScenarioError(f"{field}: unknown preset {name!r}; known: {', '.join(known)}")


@dataclasses.dataclass
class _Plan:
    """The run's plan: its stations and designs, what it serves in the run (its own
    assignment), its stations' capital and the existing sites, to follow it into
    other futures (see :mod:`siting.futures.viability`)."""

    selected: np.ndarray
    types: np.ndarray
    figures: PlanFigures
    capital_of: dict[int, float]
    existing: np.ndarray
    solver: str | None

    @classmethod
    def of(
        cls,
        sc: Scenario,
        inputs: Inputs,
        need: Demand,
        plan: SolveResult,
        types: np.ndarray,
        solver: str | None,
        *,
        share: float,
    ) -> _Plan:
        """The run's ``plan`` (of designs ``types``) serving ``share`` of the demand
        (measured as in every future: :func:`plan_share`), its loads its own."""
        x = plan.extra
        if sc.economics is not None:
            figures = plan_figures(need.points, need.segments, x, plan.selected, share)
        else:  # nothing to price: the loads are not needed
            figures = PlanFigures(share, np.zeros(len(plan.selected)), plan.selected)
        costs = np.asarray(x.get("station_cost", np.zeros(len(plan.selected))), dtype=float)
        return cls(
            plan.selected,
            types,
            figures,
            {int(j): float(c) for j, c in zip(plan.selected, costs, strict=True)},
            inputs.candidates["existing"].to_numpy(bool),
            solver,
        )

    def there(
        self, other: Scenario, need: Demand, model: CapacitatedCoverage, *, same: bool
    ) -> PlanFigures:
        """The plan in the future ``other`` (its demand ``need``, the plan's ``model``);
        ``same``: a future of the run's own demand, where the plan keeps its own loads."""
        if same:
            share = plan_share(model, self.selected, self.types, solver=self.solver)
            return dataclasses.replace(self.figures, share=share)
        if other.economics is None:
            share = plan_share(model, self.selected, self.types, solver=self.solver)
            return PlanFigures(share, np.zeros(len(self.selected)), self.selected)
        return plan_in_future(
            model,
            self.selected,
            self.types,
            points=need.points,
            segments=need.segments,
            solver=self.solver,
        )

    def viable(self, other: Scenario, figures: PlanFigures) -> dict[str, Any] | None:
        """:func:`~siting.futures.viability.viability` of ``figures`` at ``other``'s terms."""
        return viability(other, figures, capital_of=self.capital_of, existing=self.existing)

    def viable_columns(self, other: Scenario, figures: PlanFigures) -> dict[str, Any]:
        """The plan's viable new stations and capital at risk there, as table columns
        (none without ``[economics]``)."""
        v = self.viable(other, figures)
        if v is None:
            return {}
        return {"plan_viable": v["viable"], "plan_capital_at_risk": v["capital_at_risk"]}


def _best_own(
    own: list[tuple[np.ndarray, np.ndarray, str, float]],
    matrix: np.ndarray,
    criterion: str,
    quantile: float,
    names: list[str],
) -> RobustResult:
    """The futures' own plan that does best by the criterion, in place of a robust
    plan whose solve found none within its time limit (each own plan is a plan of the
    robust model): its worst share, mean share, or the share it meets in all but the
    ``quantile`` share of futures."""
    n = matrix.shape[1]
    if criterion == "worst":
        value = matrix.min(axis=1)
    elif criterion == "mean":
        value = matrix.mean(axis=1)
    else:  # met in at least ceil((1 - q) n) futures: the (n - that)-th smallest share
        k = n - math.ceil((1.0 - quantile) * n - 1e-9)
        value = np.sort(matrix, axis=1)[:, max(k, 0)]
    a = int(np.argmax(value))
    return RobustResult(
        selected=own[a][0],
        types=own[a][1],
        shares=matrix[a].copy(),
        objective=float(value[a]),
        bound=None,
        gap=None,
        status="feasible",
        stopped_by=f"time limit before the integer program found a plan; {names[a]}'s own "
        "plan stands in, the best of the futures' own plans by the criterion",
        seconds=0.0,
    )


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
    here: _Plan,
    max_dc: int | None,
    options: SolveOptions,
    pmap: Callable[..., list[Any]],
    known: dict[str, tuple[tuple[Scenario, Demand, CapacitatedCoverage], _Own]] | None = None,
) -> list[dict[str, Any]]:
    """Each assumption at its low and high: the plan's share there, the share of its
    own best plan, the share of the run's stations that plan keeps and, with
    ``[economics]``, how many of the plan's new stations pay back there.

    An ``[economics]`` field moves no demand, nor does the scenario's own value of a
    field: the plan is its own best plan there (nothing is solved again) and only its
    stations' economics change."""
    fc = present(sc.futures, "sc.futures")  # futures_stage checked it
    ends = [(key, end, v) for key, lo_hi in sorted(fc.ranges.items()) for end, v in
            zip(("low", "high"), lo_hi, strict=True)]  # fmt: skip
    solved = [(key, end, v) for key, end, v in ends if moves_demand(sc, key, v)]
    known = known or {}
    fresh = [(key, end, v) for key, end, v in solved if _key({key: v}) not in known]
    worlds = {(key, end): _future(sc, inputs, {key: v}, need, max_dc) for key, end, v in fresh}
    own = dict(
        zip(
            worlds,
            pmap(_own, [m for _, _, m in worlds.values()], [options] * len(worlds)),
            strict=True,
        )
    )
    for key, end, v in solved:
        if (key, end) not in worlds:
            worlds[key, end], own[key, end] = known[_key({key: v})]
    base = set(here.selected.tolist())
    base_demand = round(float(need.weights.sum()), 3)
    rows = []
    for key, end, value in ends:
        if (key, end) in worlds:
            other, fneed, model = worlds[key, end]
            selected, _, status, share = own[key, end]
            figures = here.there(other, fneed, model, same=False)
            demand = round(float(model.demand.sum()), 3)
            kept = round(len(base & set(selected.tolist())) / max(len(base), 1), 6)
        else:  # prices only, or the scenario's own value: the run's plan and loads
            other = sc.with_overrides({key: value})
            figures, demand = here.figures, base_demand
            share, status, kept = figures.share, "the run's plan (same demand)", 1.0
        rows.append(
            {
                "assumption": key,
                "end": end,
                "value": value,
                "demand_sessions_day": demand,
                "plan_share": round(figures.share, 6),
                "own_share": round(share, 6),
                "own_status": status,
                "stations_kept": kept,
                **here.viable_columns(other, figures),
            }
        )
    return rows
