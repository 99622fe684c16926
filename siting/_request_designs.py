"""Private: a run's station designs and user groups as the capacitated model's
designs and demand classes (for :class:`siting.request.Request`).

Each user group (segment) is a demand class of its own: its sessions per point, its
own longest trip, the designs it may use, its weight and minimum share. Each
design's capacity is in port-hours a day and each group's session takes its own
hours there (:mod:`siting.designs`); a design limited to some candidate kinds
stands only at those; existing stations of known type keep their own design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from siting._site_controls import SiteControls, asks_for_controls, site_controls
from siting.designs import DesignSpec, design_specs, existing_spec, load_site_costs
from siting.economics import breakeven_kwh_day
from siting.errors import InputError
from siting.optimize.capacitated.design import Design

if TYPE_CHECKING:
    import geopandas as gpd

    from siting.demand import Demand
    from siting.results import Inputs
    from siting.scenario import Scenario
    from siting.sections import BenefitsConfig, CapacityConfig
    from siting.segments import Segment


@dataclass(frozen=True, eq=False)
class DesignSetup:
    """What the designs form of a request adds: the designs, each site's own cost."""

    specs: tuple[DesignSpec, ...]
    site_cost: np.ndarray | None = None
    site_cost_note: str = ""
    #: each user group's weight in the objective (see :func:`class_weights`)
    class_weight: tuple[float, ...] | None = None
    #: sites forced into and kept out of every plan (``candidates.force``, ...)
    controls: SiteControls | None = None
    #: with ``optimize.viable``: kWh per session of each group, and each design's
    #: break-even kWh a day at each site (see :func:`least_use`)
    class_use: tuple[float, ...] | None = None
    min_use: dict[str, np.ndarray] | None = None


def asks_for_designs(sc: Scenario, segments: dict[str, Segment]) -> bool:
    """Whether the scenario needs the designs form: ``[[optimize.designs]]``, a user
    group's own standard (trip, designs, minimum share, weight, car power) or sites
    with their own cost."""
    own = any(
        s.max_trip_min is not None
        or s.designs is not None
        or s.min_served_share > 0
        or s.weight != 1.0
        or len(s.car_kw) > 0
        for s in segments.values()
    )
    return (
        bool(sc.optimize.designs)
        or own
        or sc.candidates.site_costs is not None
        or sc.optimize.segment_equity > 0
        or sc.optimize.objective != "sessions"
        or sc.optimize.viable
        or asks_for_controls(sc)
    )


def design_setup(sc: Scenario, inputs: Inputs, demand: Demand) -> DesignSetup:
    """The scenario's designs (with their capacity at its demand) and site costs."""
    specs = design_specs(sc, demand.segments, demand.peak_hour_share)
    weight = tuple(class_weights(sc, demand))
    costs = load_site_costs(sc)
    per_site, note = None, ""
    if costs is not None:
        per_site, note = site_costs(costs, inputs, snap_m=sc.candidates.snap_max_m)
    use, least = least_use(sc, demand, specs, per_site, len(inputs.candidates))
    controls = site_controls(sc, inputs) if asks_for_controls(sc) else None
    return DesignSetup(tuple(specs), per_site, note, weight, controls, use, least)


def least_use(
    sc: Scenario,
    demand: Demand,
    specs: list[DesignSpec],
    site_cost: np.ndarray | None,
    n_sites: int,
) -> tuple[tuple[float, ...] | None, dict[str, np.ndarray] | None]:
    """With ``optimize.viable``: each group's kWh per session and each design's
    break-even kWh a day at each site (its capital: the design's cost and the site's
    own), the least a new station must sell to pay back within the lease; else
    (None, None)."""
    terms = sc.economics
    if not sc.optimize.viable or terms is None:
        return None, None
    groups = classes(demand)
    extra = np.zeros(n_sites) if site_cost is None else np.asarray(site_cost, dtype=float)
    least = {spec.name: breakeven_kwh_day(spec.cost + extra, terms) for spec in specs}
    if any(np.isnan(v).any() for v in least.values()):
        raise InputError(
            f"optimize.viable: no station pays back when the operator keeps "
            f"{terms.net_price:g} per kWh sold and pays {terms.energy_cost_per_kwh_sold:g} "
            "for it (economics.price, economics.electricity_cost); raise the price or "
            "turn optimize.viable off"
        )
    return tuple(demand.segments[g].kwh_per_session for g in groups), least


def site_costs(costs: pd.DataFrame, inputs: Inputs, *, snap_m: float) -> tuple[np.ndarray, str]:
    """Each candidate's own capital cost: each row of ``costs`` on the candidate
    nearest to its point within ``snap_m``; rows on the same candidate add up.

    Raises
    ------
    InputError
        No row lies within ``snap_m`` of a candidate.
    """
    cand = inputs.candidates
    xy = inputs.index.to_metric(cand["lon"].to_numpy(), cand["lat"].to_numpy())
    pts = inputs.index.to_metric(costs["lon"].to_numpy(float), costs["lat"].to_numpy(float))
    dist, nearest = cKDTree(xy).query(pts)
    ok = dist <= snap_m
    if not ok.any():
        raise InputError(
            f"candidates.site_costs: expected points within candidates.snap_max_m "
            f"({snap_m:g} m) of a candidate site, got none of {len(pts)} (nearest "
            f"{dist.min():,.0f} m)"
        )
    out = np.zeros(len(cand))
    np.add.at(out, nearest[ok], costs["cost"].to_numpy(float)[ok])
    note = f"{int(ok.sum())} of {len(pts)} site costs placed on {len(set(nearest[ok]))} candidates"
    if not ok.all():
        note += f"; {int((~ok).sum())} farther than {snap_m:g} m from any candidate left out"
    return out, note


def classes(demand: Demand) -> list[str]:
    """The user groups with a demand column, in the demand's order."""
    return [s for s in demand.segments if f"{s}_sessions_day" in demand.points]


def class_demand(demand: Demand) -> np.ndarray:
    """Sessions per day of each user group (rows) at each demand point."""
    return np.vstack([demand.points[f"{s}_sessions_day"].to_numpy(float) for s in classes(demand)])


def class_weights(sc: Scenario, demand: Demand) -> list[float]:
    """Each user group's weight in the objective (``optimize.objective``): its
    ``weight`` times what a session counts, one (``sessions``), its kWh (``energy``)
    or its kg CO2 avoided against a petrol car (``co2``, from ``[benefits]``)."""
    groups = classes(demand)
    weight = [demand.segments[g].weight for g in groups]
    objective = sc.optimize.objective
    if objective == "sessions":
        return weight
    kwh = [demand.segments[g].kwh_per_session for g in groups]
    per_kwh = 1.0
    if objective == "co2":
        b = sc.benefits
        if b is None:  # the scenario's own check says so first
            raise InputError("optimize.objective: 'co2' needs a [benefits] section")
        per_kwh = co2_avoided_per_kwh(b)
    return [w * k * per_kwh for w, k in zip(weight, kwh, strict=True)]


def co2_avoided_per_kwh(b: BenefitsConfig) -> float:
    """kg CO2 avoided per kWh charged: the petrol a car would burn for the km that
    kWh drives, less the grid's CO2 for it (the figure of ``kpis.json``'s benefits)."""
    km = 1.0 / b.ev_kwh_per_km
    return km * b.petrol_l_per_100km / 100.0 * b.petrol_kg_co2_per_l - b.grid_kg_co2_per_kwh


def thresholds_s(demand: Demand, threshold_s: float) -> list[float]:
    """Each group's longest trip in seconds (``max_trip_min``, else the scenario's)."""
    out = []
    for s in classes(demand):
        trip = demand.segments[s].max_trip_min
        out.append(threshold_s if trip is None else 60.0 * float(trip))
    return out


def model_design(spec: DesignSpec, groups: list[str], sites: frozenset[int] | None) -> Design:
    """A design of the scenario as the model's: units are hours per session."""
    units = tuple(spec.hours[g] if g in spec.segments else math.nan for g in groups)
    return Design(spec.name, spec.capacity_h, units, spec.cost, spec.charger, sites)


def model_designs(
    specs: tuple[DesignSpec, ...], candidates: gpd.GeoDataFrame, groups: list[str]
) -> list[Design]:
    """The model's designs: each limited to the new candidates of its site kinds."""
    kind = candidates["kind"].astype(str).to_numpy()
    new = ~candidates["existing"].to_numpy(bool)
    out = []
    for spec in specs:
        sites = None
        if spec.site_kinds is not None:
            sites = frozenset(np.flatnonzero(new & np.isin(kind, spec.site_kinds)).tolist())
        out.append(model_design(spec, groups, sites))
    return out


def existing_designs(
    candidates: gpd.GeoDataFrame,
    cfg: CapacityConfig,
    demand: Demand,
) -> dict[int, tuple[DesignSpec, Design]]:
    """Each existing station of known type: its own design (its ports and power,
    else the scenario's per-station figures), as a spec and as the model's."""
    groups = classes(demand)
    frame = candidates.reset_index(drop=True)
    out: dict[int, tuple[DesignSpec, Design]] = {}
    for j in np.flatnonzero(frame["existing"].to_numpy()).tolist():
        t = str(frame.at[j, "type_known"] or "")
        if t not in ("AC", "DC"):
            continue
        ports, kw = frame.at[j, "ports_known"], frame.at[j, "kw_known"]
        n = cfg.ports if pd.isna(ports) else int(ports)
        power = (cfg.ac_kw if t == "AC" else cfg.dc_kw) if pd.isna(kw) else float(kw)
        try:
            spec = existing_spec(t, n, power, cfg, demand.segments, demand.peak_hour_share)
        except InputError as exc:
            site = frame.at[j, "site_id"] if "site_id" in frame else j
            raise InputError(f"existing station {site}: {exc}") from None
        out[j] = (spec, model_design(spec, groups, frozenset([j])))
    return out


def sessions_at_mix(spec: DesignSpec, demand: Demand) -> float:
    """Sessions per day a station of ``spec`` takes at the demand mix of its users."""
    total = {g: demand.segments[g].sessions_per_day for g in spec.segments}
    weight = sum(total.values())
    if weight <= 0 or not spec.hours:
        mean = float(np.mean(list(spec.hours.values()) or [1.0]))
        return spec.capacity_h / max(mean, 1e-12)
    mean_h = sum(total[g] * spec.hours[g] for g in spec.segments) / weight
    return spec.capacity_h / mean_h
