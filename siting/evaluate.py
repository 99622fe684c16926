"""Stage 6 — evaluate the plan: its stations, districts, curve and key figures.

:func:`evaluate_stage` turns the plan stage's :class:`~siting.results.Decision`
into what a planner reads: the stations with their load, type, cost and nearest
neighbours, the figures per district, the areas each station serves, the curve of
demand served against stations, and the kpis. The metrics themselves are in
:mod:`siting.metrics`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting import settings
from siting.economics import run_station_figures
from siting.errors import InputError
from siting.kpis import plan_figures, run_figures, station_figures, warn_assumed
from siting.metrics import district_figures, evaluate_plan, served_areas
from siting.optimize import Phase, SolveResult
from siting.scenario import preset_label
from siting.segment_figures import segment_figures
from siting.travel import TravelTimes

if TYPE_CHECKING:
    from siting.demand import Demand
    from siting.results import Decision, Inputs
    from siting.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """What stage 6 makes of a decision."""

    sites: gpd.GeoDataFrame
    kpis: dict[str, Any]
    per_district: pd.DataFrame
    per_demand: pd.DataFrame
    areas: gpd.GeoDataFrame
    curve: pd.DataFrame


def _curve(
    sc: Scenario, need: Demand, candidates: Any, decision: Decision, threshold_s: float
) -> pd.DataFrame:
    """The served-against-stations curve: the plan, the sizes solved alone, the phases
    and this preset's capacitated minimum plans, each row saying what it is."""
    label = preset_label(sc)
    reaching = [
        row["result"]
        for row in decision.minimum
        if row["preset"] == label and "result" in row and row["form"] == "capacitated"
    ]
    if decision.frontier is not None and decision.chosen is not None:
        pick = decision.frontier[decision.chosen]
        plan_note = (
            f"the plan: point {decision.chosen} of the {len(decision.frontier)}-point cost "
            f"frontier (optimize.choose.rule = {sc.optimize.choose.rule!r}), capital "
            f"{pick.cost:,.0f}; the sizes solved alone may serve more at a higher cost "
            "(frontier.csv)"
        )
    else:
        plan_note = f"the plan: the best {sc.optimize.p} stations (optimize.p)"
    return served_curve(
        need.points,
        candidates,
        need.travel,
        threshold_s,
        plan=decision.result,
        alone=decision.alone,
        phases=decision.phases,
        minimum=reaching,
        plan_note=plan_note,
    )


def evaluate_stage(sc: Scenario, inputs: Inputs, need: Demand, decision: Decision) -> Evaluation:
    """Stage 6 of ``sc``: the figures of ``decision``'s plan (see the module docstring)."""
    oc, result = sc.optimize, decision.result
    demand, tt, candidates = need.points, need.travel, inputs.candidates
    alloc, by_district = need.alloc, need.by_district
    if alloc is None or by_district is None:
        raise InputError("need: evaluate_stage needs the demand by district (demand_stage)")
    threshold_s = oc.threshold_s
    kpis, per_site, per_demand = evaluate_plan(
        demand,
        candidates,
        result.selected,
        tt,
        threshold_s=threshold_s,
        served=served_per_point(result),
        # the capacitated model's (point, station, sessions, DC) assignment; the
        # covering models assign each point to its nearest station, as evaluate does
        assignment=a if isinstance(a := result.extra.get("assignment"), tuple) else None,
    )
    sites = candidates.iloc[result.selected].reset_index(drop=True)
    sites = sites.join(per_site, on="site_id")
    known = sites["ports_known"].to_numpy(float)
    sites["ports"] = np.where(np.isfinite(known), known, oc.capacity.ports).astype(int)
    sites["neighbours"] = neighbour_labels(tt, result.selected, sites["site_id"].to_numpy())
    curve = _curve(sc, need, candidates, decision, threshold_s)
    if decision.phases is not None:
        first = {j: ph.p for ph in reversed(decision.phases) for j in ph.selected.tolist()}
        sites["phase"] = [first.get(int(j), oc.p) for j in result.selected]
        kpis["phasing"] = phasing_figures(decision.phases)
    station_figures(sites, result, decision, oc)
    warn_assumed(sites, oc)
    # each station's sessions and kWh a day per group and, with [economics], its economics
    flows, economics = run_station_figures(
        sc, demand, need.segments, result.extra, sites, per_demand
    )
    for col in flows.columns:
        sites[col] = flows[col].to_numpy()
    if economics is not None:
        kpis["economics"] = economics
    kpis.update(
        plan_figures(sc, result, decision, demand, need.segments, tt, threshold_s, candidates, kpis)
    )
    x = result.extra
    kpis["segments"], per_segment = segment_figures(
        demand,
        need.segments,
        tt,
        result.selected,
        threshold_s=threshold_s,
        types=x.get("types"),
        served_ac=x.get("served_ac"),
        served_dc=x.get("served_dc"),
        by_segment=_by_segment(need, decision, threshold_s),
    )
    # each segment's sessions served per cell, for demand.csv and the map's layers
    served_cols = [c for c in per_segment.columns if c.endswith("_served")]
    per_demand = per_demand.assign(
        **{c: np.round(per_segment[c].to_numpy(float), 4) for c in served_cols}
    )
    kpis["minimum"] = [{k: v for k, v in row.items() if k != "result"} for row in decision.minimum]
    if decision.staging is not None:  # sites by candidate id, not by index
        ids = candidates["site_id"].to_numpy()
        staging = dict(decision.staging)
        staging["sites"] = [{**r, "site": str(ids[r["site"]])} for r in staging["sites"]]
        kpis["staging"] = staging
    per_district = district_figures(
        alloc,
        per_demand,
        demand,
        candidates,
        result.selected,
        inputs.districts,
        district_column=sc.demand.district_column,
        segment_served=per_segment,
    )
    per_district = by_district.merge(
        per_district.drop(columns=["demand"]), on="district", how="outer"
    )
    kpis = run_figures(sc, inputs, need, decision, kpis)
    areas = served_areas(demand, per_demand, sites)
    return Evaluation(sites, kpis, per_district, per_demand, areas, curve)


def phasing_figures(phases: list[Phase]) -> list[dict[str, Any]]:
    """Each nested phase's objective and status, against the same size solved alone."""
    return [
        {
            "p": ph.p,
            "objective": ph.objective,
            "status": ph.status,
            "independent_objective": ph.independent_objective,
            "independent_status": ph.independent_status,
            "cost_of_nesting": round(ph.cost_of_nesting, 6),
        }
        for ph in phases
    ]


def served_per_point(result: SolveResult) -> np.ndarray | None:
    """Sessions per day served at each demand point, when the model says (capacitated)."""
    x = result.extra
    if "served_by_class" in x:
        return np.asarray(x["served_by_class"], dtype=float).sum(axis=0)
    if "served_ac" in x and "served_dc" in x:
        return np.asarray(x["served_ac"], dtype=float) + np.asarray(x["served_dc"], dtype=float)
    return None


def _by_segment(
    need: Demand, decision: Decision, threshold_s: float
) -> dict[str, tuple[float, np.ndarray, np.ndarray]] | None:
    """With designs: per segment its longest trip, the open stations whose design
    serves it and its sessions served per point (see :func:`segment_figures`)."""
    x = decision.result.extra
    if decision.designs is None or "served_by_class" not in x:
        return None
    classes = list(x["classes"])
    names = np.asarray(x["designs"]).astype(str)
    out = {}
    for name, seg in need.segments.items():
        trip = seg.max_trip_min
        limit = threshold_s if trip is None else 60.0 * float(trip)
        usable = np.array([name in decision.designs[n]["segments"] for n in names], dtype=bool)
        served = (
            np.asarray(x["served_by_class"][classes.index(name)], dtype=float)
            if name in classes
            else np.zeros(len(need.points))
        )
        out[name] = (limit, usable, served)
    return out


def neighbour_labels(tt: TravelTimes, selected: np.ndarray, ids: np.ndarray) -> list[str]:
    """For each chosen station, its nearest chosen stations by drive time, as text."""
    pos, secs = tt.between_sites(selected, k=settings.NEIGHBOURS)
    return [
        "; ".join(
            f"{ids[j]} ({t / 60.0:.1f} min)" for j, t in zip(row, srow, strict=True) if j >= 0
        )
        for row, srow in zip(pos, secs, strict=True)
    ]


def served_curve(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    tt: TravelTimes,
    threshold_s: float,
    *,
    plan: SolveResult,
    alone: dict[int, SolveResult],
    phases: list[Phase] | None,
    minimum: list[SolveResult] | None = None,
    plan_note: str = "the plan",
) -> pd.DataFrame:
    """Demand served and access time against the number of stations.

    One row per solved plan: the plan itself, each ``optimize.curve`` size solved
    alone, with phases each nested phase, and the minimum plans (``source`` says
    which and ``note`` what it is: ``plan_note`` for the plan), so the curve reaches
    the station count that serves the target.
    """
    notes = {
        "plan": plan_note,
        "alone": "this many stations solved alone (same model, constraints and budget)",
        "minimum": "the minimum plan reaching its target share",
        "nested": "a nested phase (optimize.phases)",
    }
    rows = []
    entries: list[tuple[str, SolveResult, np.ndarray]] = [("plan", plan, plan.selected)]
    entries += [("alone", r, r.selected) for r in alone.values()]
    entries += [("minimum", r, r.selected) for r in minimum or []]
    if phases is not None:
        entries += [("nested", ph.result, ph.selected) for ph in phases]
    for source, res, selected in entries:
        k, _, _ = evaluate_plan(
            demand, candidates, selected, tt, threshold_s=threshold_s, served=served_per_point(res)
        )
        rows.append(
            {
                "stations": len(selected),
                "source": source,
                "served_share": k["served_share"],
                "demand_served": k["demand_served"],
                "coverage_share": k["coverage_share"],
                "mean_access_min": k["mean_access_min"],
                "p95_access_min": k["p95_access_min"],
                "objective": res.objective,
                "status": res.status,
                "gap": res.gap,
                "note": notes[source],
            }
        )
    out = pd.DataFrame(rows).drop_duplicates(["stations", "source"])
    return out.sort_values(["stations", "source"], kind="stable").reset_index(drop=True)
