"""Stage 6 (continued) — the key figures a planner defends a plan with (``kpis.json``).

Per station: type, capacity, load and capital cost from the model's one
assignment, and which figures of an existing station were assumed (not recorded).
Per plan: costs and cost per session, the cost frontier and why its point was
chosen, the existing network known against reported, and the benefits (energy,
electric km, CO2 and local pollutants avoided) with the factors used.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._version import __version__
from siting.costs import cost_breakdown, opex_year
from siting.errors import InputError
from siting.frontier import RULES, frontier_table, is_straight
from siting.metrics import within
from siting.network import graph_stats
from siting.optimize import SolveResult
from siting.scenario import Scenario, preset_label
from siting.sections import OptimizeConfig
from siting.segments import Segment
from siting.travel import TravelTimes

if TYPE_CHECKING:
    from siting.demand import Demand
    from siting.results import Decision, Inputs


log = logging.getLogger(__name__)


def station_figures(
    sites: gpd.GeoDataFrame, result: SolveResult, decision: Decision, oc: OptimizeConfig
) -> None:
    """Add type, capacity, utilisation, power and capital cost to ``sites`` (in place)."""
    x = result.extra
    existing = sites["existing"].to_numpy(bool)
    if "types" in x:
        sites["station_type"] = x.get("chargers", x["types"])
        if decision.designs is not None:
            sites["design"] = x["designs"]
        sites["capacity_sessions"] = x["capacity"]
        cap = np.asarray(x["capacity"], dtype=float)
        load = sites["sessions_served"].to_numpy(float)
        sites["utilisation"] = np.divide(load, cap, out=np.zeros(len(cap)), where=cap > 0)
        sites["capital_cost"] = x["station_cost"]
    else:
        sites["station_type"] = np.where(existing, sites["type_known"].to_numpy(), "")
        sites["capacity_sessions"] = np.nan
        sites["utilisation"] = np.nan
        sites["capital_cost"] = np.where(existing, 0.0, decision.costs.get("AC", 0.0))
    kw = {"AC": oc.capacity.ac_kw, "DC": oc.capacity.dc_kw}
    known = sites["kw_known"].to_numpy(float)
    default = np.array([kw.get(t, np.nan) for t in sites["station_type"]], dtype=float)
    if "design" in sites and decision.designs is not None:
        per = {n: float(d["kw_per_port"]) for n, d in decision.designs.items()}
        default = np.array([per.get(str(n), np.nan) for n in sites["design"]], dtype=float)
        ports = {n: int(d["ports"]) for n, d in decision.designs.items()}
        sites["ports"] = [
            ports.get(str(n), p) for n, p in zip(sites["design"], sites["ports"], strict=True)
        ]
    sites["kw"] = np.where(np.isfinite(known), known, default)
    sites["assumed"] = assumed_figures(sites)


def assumed_figures(sites: pd.DataFrame) -> list[str]:
    """Per site, the figures shown (``station_type``, ``ports``, ``kw``) that an existing
    station does not record and the run took from the scenario or the plan, joined by
    ``;`` (``"ports;kw"``); empty when all are recorded, and for new stations (whose
    figures are the plan's)."""
    out = []
    for ex, t_known, p_known, kw_known, t, kw in zip(
        sites["existing"].to_numpy(bool),
        sites["type_known"].fillna("").astype(str),
        sites["ports_known"].to_numpy(float),
        sites["kw_known"].to_numpy(float),
        sites["station_type"].fillna("").astype(str),
        sites["kw"].to_numpy(float),
        strict=True,
    ):
        parts = []
        if ex and not t_known and t:
            parts.append("station_type")
        if ex and np.isnan(p_known):
            parts.append("ports")
        if ex and np.isnan(kw_known) and np.isfinite(kw):
            parts.append("kw")
        out.append(";".join(parts))
    return out


def warn_assumed(sites: pd.DataFrame, oc: OptimizeConfig) -> None:
    """Warn, once per figure, of the existing stations whose ``assumed`` column (see
    :func:`assumed_figures`) names it, and of what the run took in its place.

    Logged when the plan is evaluated, not when the stations are read, so that a run
    refused later for a bad input still reports only that input.
    """
    existing = sites["existing"].to_numpy(bool)
    if not existing.any():
        return
    cap = oc.capacity
    taken = {
        "ports": ("ports", f"{cap.ports} ports each are assumed (optimize.capacity.ports)"),
        "kw": (
            "power per port",
            f"the scenario's power of their type is assumed (optimize.capacity.ac_kw "
            f"{cap.ac_kw:g} kW, dc_kw {cap.dc_kw:g} kW)",
        ),
        "station_type": ("type", "the plan chose AC or DC for them"),
    }
    marks = sites["assumed"].fillna("").astype(str).str.split(";")
    for figure, (what, assumed) in taken.items():
        unknown = existing & marks.map(lambda m, f=figure: f in m).to_numpy(bool)
        n = int(unknown.sum())
        if not n:
            continue
        ids = [
            f"{sid} {name!r}" if name else str(sid)
            for sid, name in zip(
                sites["site_id"][unknown][:5], sites["name"].fillna("")[unknown][:5], strict=True
            )
        ]
        more = f" and {n - len(ids)} more" if n > len(ids) else ""
        log.warning(
            "existing stations: %d of %d have no %s recorded (%s%s): %s; sites.csv marks "
            "them in its 'assumed' column",
            n,
            int(existing.sum()),
            what,
            ", ".join(ids),
            more,
            assumed,
        )


def plan_figures(
    sc: Scenario,
    result: SolveResult,
    decision: Decision,
    demand: gpd.GeoDataFrame,
    segments: dict[str, Segment],
    tt: TravelTimes,
    threshold_s: float,
    candidates: gpd.GeoDataFrame,
    kpis: dict[str, Any],
) -> dict[str, Any]:
    """kpis.json sections ``served``, ``costs``, ``plan_choice``, ``frontier``,
    ``existing`` and ``benefits``."""
    oc = sc.optimize
    out: dict[str, Any] = {}
    x = result.extra
    capital = float(x.get("cost", 0.0) or 0.0)
    served = float(kpis["demand_served"])
    if "types" in x:
        chargers = np.asarray(x.get("chargers", x["types"]))
        load = np.asarray(x["load"], dtype=float)
        out["served"] = {
            "sessions_day": round(served, 3),
            "share": kpis["served_share"],
            # legacy form: sessions of AC and of DC demand; with designs: sessions
            # served at AC and at DC stations
            "ac_sessions_day": round(float(load[chargers == "AC"].sum()), 3)
            if "served_ac" not in x
            else round(float(x["served_ac"].sum()), 3),
            "dc_sessions_day": round(float(load[chargers == "DC"].sum()), 3)
            if "served_dc" not in x
            else round(float(x["served_dc"].sum()), 3),
            "station_capacity_sessions_day": {t: round(k, 3) for t, k in decision.capacity.items()},
            "stations_by_type": {t: int((chargers == t).sum()) for t in ("AC", "DC")}
            if decision.designs is not None
            else {t: int((x["types"] == t).sum()) for t in decision.capacity},
            "mean_utilisation": round(float(np.mean(x["utilisation"])), 4)
            if len(x["utilisation"])
            else 0.0,
            "cost": round(capital, 2),
            "budget": oc.budget.total if oc.budget else None,
        }
        if decision.designs is not None:
            names = np.asarray(x["designs"])
            out["served"]["stations_by_design"] = {
                n: int((names == n).sum()) for n in decision.designs if (names == n).any()
            }
            out["served"]["sessions_day_by_design"] = {
                n: round(float(load[names == n].sum()), 3)
                for n in decision.designs
                if (names == n).any()
            }
    breakdown = cost_breakdown(sc.costs, oc.capacity)
    per_session = {
        t: round(decision.costs[t] / k, 2) if k > 0 else None
        for t, k in decision.capacity.items()
        if t in decision.costs
    }
    if decision.designs is not None:
        breakdown = {
            "currency": sc.costs.currency if sc.costs else None,
            "designs": decision.designs,
            "opex_share_year": sc.costs.opex_share_year if sc.costs else 0.0,
            "source": sc.costs.source if sc.costs else "",
        }
    out["costs"] = {
        **breakdown,
        "plan_capital_cost": round(capital, 2),
        "plan_opex_year": round(opex_year(capital, sc.costs), 2),
        "cost_per_session_day": round(capital / served, 2) if served > 0 else None,
        # why a type: what one session/day of capacity costs at a full station of each type
        "station_cost_per_session_day_of_capacity": per_session,
        "existing_stations_cost": "sunk: existing stations cost nothing in the plan",
    }
    if decision.frontier is not None and decision.chosen is not None:
        nb = tt.neighbours(threshold_s)
        w = demand["sessions_day"].to_numpy(float)
        covered = [float(w[within(nb, pt.result.selected)].sum()) for pt in decision.frontier]
        table = frontier_table(
            decision.frontier,
            decision.chosen,
            covered=covered,
            demand_total=float(w.sum()),
            currency=sc.costs.currency if sc.costs else None,
        )
        out["frontier"] = table.to_dict(orient="records")
        out["plan_choice"] = {
            "rule": oc.choose.rule,
            "meaning": RULES[oc.choose.rule],
            "rationale": oc.choose.rationale,
            "point": decision.chosen,
            "points": len(decision.frontier),
            # every step buys about the same: the knee has nothing to choose
            "straight": is_straight(decision.frontier, tolerance=oc.gap),
            "max_marginal_cost": oc.choose.max_marginal_cost,
        }
    else:
        out["plan_choice"] = {
            "rule": "p stations, no cost frontier",
            "meaning": "the model's optimum for optimize.p "
            + ("(phases)" if oc.phases else "(no costs, or not the capacitated model)"),
            "rationale": oc.choose.rationale,
        }
    if decision.controls is not None:
        out["controls"] = decision.controls
    out["existing"] = existing_figures(sc, candidates)
    if sc.benefits is not None:
        out["benefits"] = benefits(sc, result, demand, segments, kpis, capital)
    return out


def existing_figures(sc: Scenario, candidates: gpd.GeoDataFrame) -> dict[str, Any]:
    """Existing stations known to the plan against the number reported to operate."""
    ex = candidates[candidates["existing"].to_numpy(bool)]
    cc = sc.candidates
    sources: dict[str, int] = {}
    for src in ex["source"].astype(str):
        for part in src.split("+"):
            key = part.split(":")[0] if ":" in part else part
            sources[key] = sources.get(key, 0) + 1
    known = len(ex)
    out: dict[str, Any] = {
        "known": known,
        "by_source": sources,
        "by_type": {
            t or "unknown": int(n) for t, n in ex["type_known"].value_counts().sort_index().items()
        },
        "reported": cc.existing_reported,
        "reported_source": cc.existing_reported_source or None,
    }
    if cc.existing_reported:
        missing = max(cc.existing_reported - known, 0)
        out["missing"] = missing
        out["note"] = (
            f"{known} existing station(s) known to the plan against {cc.existing_reported} "
            f"reported to operate: {missing} are not in the plan's data, so the plan adds "
            "stations on top of a network it only partly sees"
            if missing
            else f"all {cc.existing_reported} reported stations are known"
        )
    return out


def benefits(
    sc: Scenario,
    result: SolveResult,
    demand: gpd.GeoDataFrame,
    segments: dict[str, Segment],
    kpis: dict[str, Any],
    capital: float,
) -> dict[str, Any]:
    """Energy, electric km and emissions avoided by the sessions the plan serves.

    Each served session delivers its segment's energy; the km it drives are the
    energy over the EV's consumption; a petrol car would burn
    ``km × l/100km / 100`` litres for them. CO2 avoided is the petrol CO2 less the
    grid's CO2 for the energy; local pollutants avoided are the petrol car's
    (charging emits none in the city).
    """
    b = sc.benefits
    if b is None:
        raise InputError("sc: benefits needs a scenario with [benefits]")
    x = result.extra
    ac_served = x.get("served_ac")
    dc_served = x.get("served_dc")
    per_point = kpis["demand_served"]
    energy = 0.0
    classes = [str(c) for c in x.get("classes") or ()]
    by_class = np.asarray(x.get("served_by_class", np.zeros((0, 0))), dtype=float)
    own = len(by_class) == len(classes) > 0 and all(c in segments for c in classes)
    if own:
        # each user group a class of the model (designs, group standards): its own
        # sessions served at its own kWh per session (not the demand within reach)
        for k, c in enumerate(classes):
            energy += float(by_class[k].sum()) * segments[c].kwh_per_session
    for kind, served in () if own else (("AC", ac_served), ("DC", dc_served)):
        names = [n for n, s in segments.items() if s.charger == kind]
        sess = sum(demand[f"{n}_sessions_day"].to_numpy(float) for n in names) if names else 0.0
        kwh = sum(demand[f"{n}_kwh_day"].to_numpy(float) for n in names) if names else 0.0
        if not names:
            continue
        mean_kwh = np.divide(kwh, sess, out=np.zeros(len(demand)), where=np.asarray(sess) > 0)
        if served is None:  # one station type: the demand within the threshold is served
            covered = kpis["coverage_share"]
            energy += float(np.sum(kwh)) * covered
        else:
            energy += float(np.sum(np.asarray(served) * mean_kwh))
    km_day = energy / b.ev_kwh_per_km
    litres_day = km_day * b.petrol_l_per_100km / 100.0
    co2_petrol_t = litres_day * b.petrol_kg_co2_per_l / 1000.0
    co2_grid_t = energy * b.grid_kg_co2_per_kwh / 1000.0
    co2_day = co2_petrol_t - co2_grid_t
    year = b.days_per_year
    fuel_kg_day = litres_day * b.petrol_kg_per_l
    pollutants = {
        name: round(fuel_kg_day * g / 1e6 * year, 3)
        for name, g in b.pollutants_g_per_kg_fuel.items()
    }
    co2_year = co2_day * year
    return {
        "energy_kwh_day": round(energy, 1),
        "electric_km_day": round(km_day, 0),
        "petrol_litres_avoided_day": round(litres_day, 1),
        "co2_avoided_t_year": round(co2_year, 1),
        "co2_petrol_t_year": round(co2_petrol_t * year, 1),
        "co2_grid_t_year": round(co2_grid_t * year, 1),
        "local_pollutants_avoided_t_year": pollutants,
        "local_pollutants_total_t_year": round(sum(pollutants.values()), 3),
        "capital_cost_per_t_co2_year": round(capital / co2_year, 2) if co2_year > 0 else None,
        "capital_cost_per_t_co2_lifetime": round(capital / (co2_year * b.lifetime_years), 2)
        if co2_year > 0
        else None,
        "lifetime_years": b.lifetime_years,
        "sessions_served_day": per_point,
        "factors": b.model_dump(mode="json"),
    }


def run_figures(
    sc: Scenario, inputs: Inputs, need: Demand, decision: Decision, kpis: dict[str, Any]
) -> dict[str, Any]:
    """kpis.json whole: the scenario, the plan's figures (``kpis``), the demand by
    segment, the candidates, the solver's report, the network, the travel times, the
    demand out of reach and the inputs' provenance."""
    result, oc, dc = decision.result, sc.optimize, sc.demand
    candidates, tt = inputs.candidates, need.travel
    if need.by_district is None:
        raise InputError("need: run_figures needs the demand by district (demand_stage)")
    out = {
        "scenario": sc.name,
        **kpis,
        # every new station held to its break-even (optimize.viable): how many of the
        # new stations it may build the plan builds
        "viable": {
            "on": True,
            "new_allowed": oc.p - int(inputs.candidates["existing"].sum()),
            "new_built": int(kpis.get("stations_new", 0)),
        }
        if oc.viable
        else {"on": False},
        "demand": {
            "preset": preset_label(sc),
            "segments": {
                name: {
                    "count": seg.count,
                    "ev_share": seg.ev_share,
                    "evs": round(seg.evs, 1),
                    "public_share": seg.public_share,
                    "sessions_per_ev_day": seg.sessions_per_ev_day,
                    "kwh_per_session": seg.kwh_per_session,
                    "charger": seg.charger,
                    "sessions_day": round(seg.sessions_per_day, 3),
                    "kwh_day": round(seg.kwh_per_day, 1),
                }
                for name, seg in need.segments.items()
            },
            "peak_mw": round(float(need.by_district["peak_mw"].sum()), 3),
            "peak_hour_share": dc.peak_hour_share,
        },
        "candidates": len(candidates),
        "candidates_by_kind": candidates["kind"].value_counts().sort_index().to_dict(),
        "solver": {
            "model": result.model,
            "name": result.solver,
            "status": result.status,
            "label": result.describe(),
            "objective": result.objective,
            "bound": result.bound,
            "gap": result.gap,
            "gap_tolerance": result.gap_tolerance,
            "stopped_by": result.stopped_by,
            "build_s": round(result.build_s, 3),
            "solve_s": round(result.solve_s, 3),
            "time_limit_s": oc.time_limit_s,
            "secondary": result.extra.get("secondary") or result.extra.get("tie_break"),
            "final_order": result.extra.get("final_order"),
            "cached": bool(result.extra.get("cached", False)),
        },
        "network": graph_stats(inputs.graph),
        "travel": {"pairs_within_cutoff": int(tt.matrix.nnz), "cutoff_min": sc.travel.cutoff_min},
        "out_of_reach": decision.reach,
        "inputs": dict(inputs.stamps),
        "siting_version": __version__,
        "seed": sc.seed,
    }
    out["solver_label"] = result.describe()
    return out
