"""Key figures of a plan: coverage, access times, per-site and per-district load."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.errors import InfeasibleError
from siting.travel import TravelTimes

if TYPE_CHECKING:
    import scipy.sparse as sp

log = logging.getLogger(__name__)


#: What the two shares of every output mean, written once for the map's panel, the
#: comparison and the README: ``coverage_share`` (and each group's ``covered``) is
#: "within reach", ``served_share`` (and each group's ``served``) "served".
SHARES = {
    "within reach": (
        "share of the day's charging sessions that start within the drive-time limit of "
        "a station they can use"
    ),
    "served": (
        "share of the day's charging sessions the stations take: within reach and within "
        "their chargers' capacity (ports, queueing at the peak hour)"
    ),
}


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q``-th (0–100) percentile of ``values`` weighted by ``weights``.

    Uses the inverted empirical CDF: the smallest value whose cumulative weight
    reaches ``q`` percent of the total.
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    v, w = v[keep], w[keep]
    if len(v) == 0:
        return float("nan")
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    k = int(np.searchsorted(cum, q / 100.0 * cum[-1], side="left"))
    return float(v[order][min(k, len(v) - 1)])


def evaluate_plan(
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    selected: np.ndarray,
    tt: TravelTimes,
    *,
    threshold_s: float,
    weight_col: str = "sessions_day",
    served: np.ndarray | None = None,
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Coverage and access-time figures of a plan.

    Access times are to the nearest chosen site by drive time. ``served``
    (sessions per day per point, e.g. under station capacities) is the demand
    the plan serves; by default, the demand within the threshold. Every
    per-station figure comes from one assignment of demand to stations: the
    model's (``assignment``: demand point, position in ``selected``, sessions/day,
    DC flag), or without one each point within the threshold to its nearest site.
    A station's served area holds the cells within the threshold it serves most
    of (cells within reach that no station serves go to the nearest station), so
    station loads sum to the demand served and areas to the demand covered.

    Returns
    -------
    kpis
        ``coverage_share`` (demand within the threshold of a chosen site),
        demand-weighted ``mean_access_min`` and ``p95_access_min``, counts.
    per_site
        For each chosen site: ``area_cells`` and ``area_sessions`` (cells of its served
        area and their sessions/day), ``sessions_served`` (its load).
    per_demand
        For each demand point: nearest site id, access time in minutes, whether
        it is within the threshold, the demand served and its ``area_site``.
    """
    w = demand[weight_col].to_numpy(float)
    best, arg = tt.nearest(selected)
    covered = best <= threshold_s
    served_w = np.where(covered, w, 0.0) if served is None else np.asarray(served, dtype=float)
    if served_w.shape != w.shape:
        raise ValueError(
            f"served: expected {len(w)} values (one per demand point), got {served_w.shape}"
        )
    minutes = best / 60.0
    kpis = _plan_kpis(sites, selected, len(demand), w, minutes, covered, served_w, threshold_s)
    ids = sites["site_id"].to_numpy()
    area_pos, load = _areas_and_loads(len(sites), selected, arg, covered, served_w, assignment)
    per_demand = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].to_numpy(),
            "nearest_site": np.where(arg >= 0, ids[np.maximum(arg, 0)], ""),
            "access_min": np.round(minutes, 3),
            "covered": covered,
            "served": served_w,
            "area_site": np.where(area_pos >= 0, ids[selected][np.maximum(area_pos, 0)], ""),
        }
    )
    inside = area_pos >= 0
    per_site = pd.DataFrame(
        {
            "area_cells": np.bincount(area_pos[inside], minlength=len(selected)),
            "area_sessions": np.bincount(
                area_pos[inside], weights=w[inside], minlength=len(selected)
            ),
            "sessions_served": load,
        },
        index=ids[selected],
    )
    return kpis, per_site, per_demand


def _plan_kpis(
    sites: gpd.GeoDataFrame,
    selected: np.ndarray,
    n_points: int,
    w: np.ndarray,
    minutes: np.ndarray,
    covered: np.ndarray,
    served_w: np.ndarray,
    threshold_s: float,
) -> dict[str, Any]:
    """The plan-wide figures of :func:`evaluate_plan`: stations, demand within the
    threshold, served and out of reach, and the demand-weighted access times."""
    reachable = np.isfinite(minutes)
    total = float(w.sum())
    return {
        "stations": len(selected),
        "stations_existing": int(sites["existing"].to_numpy()[selected].sum()),
        "stations_new": int((~sites["existing"].to_numpy()[selected]).sum()),
        "demand_points": n_points,
        "demand_total": round(total, 3),
        "demand_covered": round(float(w[covered].sum()), 3),
        "coverage_share": round(float(w[covered].sum()) / total, 6) if total else 0.0,
        "threshold_min": threshold_s / 60.0,
        "mean_access_min": round(float(np.average(minutes[reachable], weights=w[reachable])), 3)
        if w[reachable].sum() > 0
        else None,
        "p95_access_min": round(weighted_percentile(minutes[reachable], w[reachable], 95), 3),
        "max_access_min": round(float(minutes[reachable].max()), 3) if reachable.any() else None,
        "demand_unreachable": round(float(w[~reachable].sum()), 3),
        "demand_served": round(float(served_w.sum()), 3),
        "served_share": round(float(served_w.sum()) / total, 6) if total else 0.0,
    }


def district_figures(
    alloc: pd.DataFrame,
    per_demand: pd.DataFrame,
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    selected: np.ndarray,
    districts: gpd.GeoDataFrame | None,
    *,
    district_column: str = "name",
    segment_served: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Demand covered and served, their shares and stations per district.

    ``alloc`` (see :func:`siting.demand.district_allocation`) splits each cell's
    demand over districts, so the per-district demand here is the same as in the
    demand summary; a cell's served demand is split in the same proportions.
    With ``segment_served`` (the ``<segment>_served`` columns of
    :func:`siting.segment_figures.segment_figures`, in the order of ``demand``), each
    segment's served sessions and share of its demand per district too
    (``<segment>_served_sessions_day``, ``<segment>_served_share``), a cell's
    segment served split over districts like its segment demand.
    """
    cells = demand["h3"].to_numpy()
    covered = pd.Series(per_demand["covered"].to_numpy(), index=cells)
    w = demand["sessions_day"].to_numpy(float)
    ratio = np.divide(per_demand["served"].to_numpy(float), w, out=np.zeros(len(w)), where=w > 0)
    a = alloc.assign(
        cov=alloc["sessions_day"] * alloc["h3"].map(covered).fillna(False),
        srv=alloc["sessions_day"] * alloc["h3"].map(pd.Series(ratio, index=cells)).fillna(0.0),
    )
    out = a.groupby("district").agg(
        demand=("sessions_day", "sum"), covered=("cov", "sum"), served=("srv", "sum")
    )
    out["coverage_share"] = (out["covered"] / out["demand"].replace(0, np.nan)).round(6)
    out["served_share"] = (out["served"] / out["demand"].replace(0, np.nan)).round(6)
    if segment_served is not None:
        out = out.join(_district_segments(alloc, demand, segment_served).reindex(out.index))
    if districts is not None:
        chosen = sites.iloc[selected]
        named = districts[[district_column, "geometry"]].rename(
            columns={district_column: "district"}
        )
        joined = gpd.sjoin(chosen[["site_id", "geometry"]], named, how="left", predicate="within")
        out["stations"] = joined.groupby("district").size().reindex(out.index).fillna(0).astype(int)
    return out.reset_index()


def _district_segments(
    alloc: pd.DataFrame, demand: gpd.GeoDataFrame, segment_served: pd.DataFrame
) -> pd.DataFrame:
    """Per district, each segment's served sessions and share of its demand there: a
    cell's segment served split over districts like its segment demand in ``alloc``."""
    cells = demand["h3"].to_numpy()
    out = pd.DataFrame(index=pd.Index(sorted(set(alloc["district"])), name="district"))
    for col in segment_served.columns:
        name = col.removesuffix("_served")
        if not col.endswith("_served") or f"{name}_sessions_day" not in demand:
            continue
        w = demand[f"{name}_sessions_day"].to_numpy(float)
        ratio = np.divide(segment_served[col].to_numpy(float), w, out=np.zeros(len(w)), where=w > 0)
        rows = alloc[alloc["segment"] == name]
        if rows.empty:  # a segment with no demand (no vehicles) has no rows in alloc
            out[f"{name}_served_sessions_day"] = 0.0
            out[f"{name}_served_share"] = np.nan
            continue
        part = rows["sessions_day"] * rows["h3"].map(pd.Series(ratio, index=cells)).fillna(0.0)
        seg_demand = rows.groupby("district")["sessions_day"].sum().reindex(out.index)
        served = part.groupby(rows["district"]).sum().reindex(out.index)
        out[f"{name}_served_sessions_day"] = served.fillna(0.0)
        out[f"{name}_served_share"] = (served / seg_demand.replace(0, np.nan)).round(6)
    return out


def served_areas(
    demand: gpd.GeoDataFrame, per_demand: pd.DataFrame, sites: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Each station's served area: the demand cells within the threshold it serves most
    of (see :func:`evaluate_plan`), merged into one (multi)polygon per station.

    Parameters
    ----------
    demand
        Demand cells (polygons) in the order of ``per_demand``.
    per_demand
        Output of :func:`evaluate_plan` (``area_site``).
    sites
        The chosen stations with ``site_id`` and ``existing``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id``, ``status``, ``area_cells``, ``area_sessions`` (sessions/day) and
        the area in km², one row per station with at least one cell.
    """
    keep = per_demand["area_site"].to_numpy() != ""
    cells = gpd.GeoDataFrame(
        {
            "site_id": per_demand["area_site"].to_numpy()[keep],
            "area_sessions": demand["sessions_day"].to_numpy(float)[keep],
            "area_cells": 1,
        },
        geometry=demand.geometry.to_numpy()[keep],
        crs=demand.crs,
    )
    if cells.empty:
        empty: dict[str, list[Any]] = {
            "site_id": [],
            "status": [],
            "area_cells": [],
            "area_sessions": [],
            "area_km2": [],
        }
        return gpd.GeoDataFrame(empty, geometry=[], crs=demand.crs)
    areas = cells.dissolve(by="site_id", aggfunc={"area_sessions": "sum", "area_cells": "sum"})
    areas = areas.reset_index()
    status = sites.set_index("site_id")["existing"].map({True: "existing", False: "new"})
    areas.insert(1, "status", areas["site_id"].map(status).to_numpy())
    metric = areas.to_crs(areas.estimate_utm_crs())
    areas["area_km2"] = (metric.area / 1e6).round(3).to_numpy()
    areas["area_sessions"] = areas["area_sessions"].round(4)
    return areas[["site_id", "status", "area_cells", "area_sessions", "area_km2", "geometry"]]


def _areas_and_loads(
    n_sites: int,
    selected: np.ndarray,
    arg: np.ndarray,
    covered: np.ndarray,
    served_w: np.ndarray,
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each point's served-area station (position in ``selected``, -1 for none) and
    each station's load, from the model's assignment or by nearest station."""
    pos = np.full(n_sites, -1, dtype=np.int64)
    pos[selected] = np.arange(len(selected))
    near_pos = np.where(arg >= 0, pos[np.maximum(arg, 0)], -1)
    area_pos = np.where(covered, near_pos, -1)
    load: np.ndarray = np.zeros(len(selected))
    if assignment is not None:
        r, c, v, _ = assignment
        load = np.bincount(c, weights=v, minlength=len(selected))
        # the station serving most of each point (ties to the lower position)
        order = np.lexsort((c, -v, r))
        first = np.r_[True, r[order][1:] != r[order][:-1]] if len(order) else np.array([], bool)
        top_r, top_c = r[order][first], c[order][first]
        area_pos[top_r] = np.where(covered[top_r], top_c, area_pos[top_r])
    else:
        inside = area_pos >= 0
        load = np.bincount(area_pos[inside], weights=served_w[inside], minlength=len(selected))
    return area_pos, load


def out_of_reach(
    tt: TravelTimes, weights: np.ndarray, threshold_s: float, *, model: str
) -> dict[str, Any]:
    """Refuse a request no plan can answer; measure the demand out of every plan's reach.

    Covering models serve only demand with a candidate within ``threshold_s``;
    the p-median counts demand beyond the travel cutoff at the cutoff. Returns
    the figures for ``kpis.json`` (``field``, ``limit_min``, ``points``,
    ``sessions_day``, ``share``); the run summary prints them when not zero.
    """
    total = float(weights.sum())
    if total <= 0:
        raise InfeasibleError("demand: every demand point has zero sessions/day; nothing to plan")
    field, limit_s = (
        ("travel.cutoff_min", tt.cutoff_s)
        if model == "pmedian"
        else ("optimize.threshold_min", threshold_s)
    )
    near = np.diff(tt.neighbours(limit_s).indptr) > 0
    reach = float(weights[near].sum())
    if reach <= 0:
        data = tt.matrix.data
        nearest = f"the nearest pair is {data.min() / 60:.1f} min" if len(data) else "no pair"
        raise InfeasibleError(
            f"{field}: no demand point has a candidate site within {limit_s / 60:g} min "
            f"({nearest} within the {tt.cutoff_s / 60:g} min travel cutoff); raise {field} "
            "or add candidate sites"
        )
    out = total - reach
    points = int((~near & (weights > 0)).sum())
    if out > 0:
        log.info(
            "%s: %d demand points (%.0f sessions/day, %.1f%% of demand) have no candidate "
            "site within %g min; no plan can serve them",
            field,
            points,
            out,
            100.0 * out / total,
            limit_s / 60,
        )
    return {
        "field": field,
        "limit_min": round(limit_s / 60, 3),
        "points": points,
        "sessions_day": round(out, 3),
        "share": round(out / total, 6),
    }


def within(nb: sp.csr_array, sites: np.ndarray) -> np.ndarray:
    """Whether each demand point has one of ``sites`` (candidate indices) among its
    neighbours ``nb`` (:meth:`~siting.travel.TravelTimes.neighbours`)."""
    if len(sites) == 0:
        return np.zeros(nb.shape[0], dtype=bool)
    return np.asarray(nb[:, sites].sum(axis=1)).ravel() > 0
