"""Stage 6 — key figures of a plan: coverage, access times, per-site load."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.travel import TravelTimes


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
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Coverage and access-time figures of a plan.

    Every demand point is assigned to its nearest chosen site by drive time.

    Returns
    -------
    kpis
        ``coverage_share`` (demand within the threshold of a chosen site),
        demand-weighted ``mean_access_min`` and ``p95_access_min``, counts.
    per_site
        For each chosen site: demand points and demand assigned to it, and the
        part of that within the threshold (``covered_demand``).
    per_demand
        For each demand point: nearest site id and access time in minutes.
    """
    w = demand[weight_col].to_numpy(float)
    best, arg = tt.nearest(selected)
    reachable = np.isfinite(best)
    covered = best <= threshold_s
    total = float(w.sum())
    minutes = best / 60.0
    kpis: dict[str, Any] = {
        "stations": len(selected),
        "stations_existing": int(sites["existing"].to_numpy()[selected].sum()),
        "stations_new": int((~sites["existing"].to_numpy()[selected]).sum()),
        "demand_points": len(demand),
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
    }
    ids = sites["site_id"].to_numpy()
    per_demand = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].to_numpy(),
            "nearest_site": np.where(arg >= 0, ids[np.maximum(arg, 0)], ""),
            "access_min": np.round(minutes, 3),
            "covered": covered,
        }
    )
    frame = pd.DataFrame({"site": arg, "w": w, "cov": np.where(covered, w, 0.0), "n": 1})
    agg = (
        frame[frame["site"] >= 0]
        .groupby("site")
        .agg(
            demand_points=("n", "sum"), assigned_demand=("w", "sum"), covered_demand=("cov", "sum")
        )
    )
    per_site = agg.reindex(selected).fillna(0.0)
    per_site.index = ids[selected]
    per_site["demand_points"] = per_site["demand_points"].astype(int)
    return kpis, per_site, per_demand


def district_figures(
    alloc: pd.DataFrame,
    per_demand: pd.DataFrame,
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    selected: np.ndarray,
    districts: gpd.GeoDataFrame | None,
    *,
    district_column: str = "name",
) -> pd.DataFrame:
    """Demand covered, share covered and stations per district.

    ``alloc`` (see :func:`siting.demand.district_allocation`) splits each cell's
    demand over districts, so the per-district demand here is the same as in the
    demand summary.
    """
    covered = pd.Series(per_demand["covered"].to_numpy(), index=demand["h3"].to_numpy())
    a = alloc.assign(cov=alloc["sessions_day"] * alloc["h3"].map(covered).fillna(False))
    out = a.groupby("district").agg(demand=("sessions_day", "sum"), covered=("cov", "sum"))
    out["coverage_share"] = (out["covered"] / out["demand"].replace(0, np.nan)).round(6)
    if districts is not None:
        chosen = sites.iloc[selected]
        named = districts[[district_column, "geometry"]].rename(
            columns={district_column: "district"}
        )
        joined = gpd.sjoin(chosen[["site_id", "geometry"]], named, how="left", predicate="within")
        out["stations"] = joined.groupby("district").size().reindex(out.index).fillna(0).astype(int)
    return out.reset_index()
