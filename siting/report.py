"""Stage 8 — write a run's outputs, all or nothing.

Outputs go into a temporary folder beside the destination and are renamed into
place at the very end (:func:`siting._outdir.atomic_dir`), so an interrupted or
failed run never leaves a half-written output folder, and a previous run's folder
is replaced only by a complete one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._io import write_json
from siting.candidates import candidates_layer
from siting.economics import ECONOMICS_COLUMNS
from siting.futures.report import write_futures, write_staging
from siting.maps import save_map
from siting.summary import summary as summary  # the run summary, read as report.summary

if TYPE_CHECKING:
    from siting.results import RunResult

log = logging.getLogger(__name__)

SITE_COLUMNS = [
    "site_id",
    "lat",
    "lon",
    "status",
    "kind",
    "kind_label",
    "name",
    "address",
    "district",
    "osmid",
    "node",
    "source",
    "station_type",
    "ports",
    "kw",
    "assumed",
    "sessions_served",
    "capacity_sessions",
    "utilisation",
    "area_cells",
    "area_sessions",
    "capital_cost",
    "neighbours",
]


def site_table(run: RunResult) -> gpd.GeoDataFrame:
    """The chosen stations as written to ``sites.csv`` (plus geometry)."""
    sites = run.sites.copy()
    sites["status"] = sites["existing"].map({True: "existing", False: "new"})
    extra_cols = [c for c in ("design", "phase") if c in sites.columns]
    flows = [
        col
        for g in run.scenario.groups()
        for col in (f"{g}_sessions_day", f"{g}_kwh_day")
        if col in sites.columns
    ]
    flows += ["kwh_day"] if "kwh_day" in sites.columns else []
    money = [c for c in ECONOMICS_COLUMNS if c in sites.columns]
    sites = sites[[*SITE_COLUMNS, *extra_cols, *flows, *money, "geometry"]]
    for col in ("sessions_served", "capacity_sessions", "utilisation", "area_sessions", *flows):
        sites[col] = sites[col].round(4)
    for col in money:
        if col != "pays_back":
            sites[col] = sites[col].astype(float).round(4 if col == "breakeven_kwh_day" else 2)
    return sites


def demand_table(run: RunResult) -> pd.DataFrame:
    """Every demand cell with its nearest station, access time and demand served."""
    return run.demand.drop(columns="geometry").merge(run.per_demand, on="demand_id")


def district_layer(run: RunResult) -> gpd.GeoDataFrame | None:
    """District polygons with the per-district figures, if the run has districts."""
    if run.districts is None:
        return None
    column = run.scenario.demand.district_column
    shapes = run.districts[[column, "geometry"]].rename(columns={column: "district"})
    return shapes.merge(run.per_district, on="district", how="left")


def write_outputs(run: RunResult, folder: Path) -> dict[str, Path]:
    """Write map, tables and KPIs of ``run`` into ``folder`` (already created)."""
    paths = {
        "sites_csv": folder / "sites.csv",
        "sites_geojson": folder / "sites.geojson",
        "kpis": folder / "kpis.json",
        "districts": folder / "districts.csv",
        "demand": folder / "demand.csv",
        "map": folder / "map.html",
    }
    sites = site_table(run)
    sites.drop(columns="geometry").to_csv(paths["sites_csv"], index=False, float_format="%.6f")
    sites.to_file(paths["sites_geojson"], driver="GeoJSON")
    paths["candidates"] = folder / "candidates.geojson"
    layer = candidates_layer(run.candidates, chosen=sites["site_id"])
    layer.to_file(paths["candidates"], driver="GeoJSON")
    write_json(paths["kpis"], run.kpis)
    if "phasing" in run.kpis:
        paths["phases"] = folder / "phases.csv"
        pd.DataFrame(run.kpis["phasing"]).to_csv(paths["phases"], index=False)
    run.per_district.to_csv(paths["districts"], index=False, float_format="%.4f")
    demand = demand_table(run)
    demand.to_csv(paths["demand"], index=False, float_format="%.6f")
    save_map(run.map, paths["map"])
    paths.update(write_layers(run, sites, demand, folder))
    figures = demand_figures(run.demand, run.per_district, folder)
    figures.append(access_figure(demand, run.kpis, folder / "access_times.png"))
    if run.kpis.get("frontier"):
        paths["frontier"] = folder / "frontier.csv"
        frontier = pd.DataFrame(run.kpis["frontier"])
        frontier.to_csv(paths["frontier"], index=False, float_format="%.6f")
        figures.append(frontier_figure(frontier, run.kpis, folder / "frontier.png"))
    if run.kpis.get("minimum"):
        paths["minimum"] = folder / "minimum.csv"
        pd.DataFrame(run.kpis["minimum"]).to_csv(paths["minimum"], index=False)
    if staging := run.kpis.get("staging"):
        paths.update(write_staging(staging, run.candidates, folder))
    if futures := run.kpis.get("futures"):
        paths.update(write_futures(futures, folder))
    if len(run.curve):
        paths["curve"] = folder / "curve.csv"
        run.curve.to_csv(paths["curve"], index=False, float_format="%.6f")
    if run.curve["stations"].nunique() > 1:
        figures.append(curve_figure(run.curve, run.kpis, folder / "served_vs_stations.png"))
    else:
        log.info("served_vs_stations.png: one station count only (set optimize.curve)")
    paths.update({p.stem: p for p in figures})
    log.info("outputs: %s", ", ".join(p.name for p in paths.values()))
    return paths


def write_layers(
    run: RunResult, sites: gpd.GeoDataFrame, demand: pd.DataFrame, folder: Path
) -> dict[str, Path]:
    """The GeoPackage ``plan.gpkg`` (sites, demand, districts, served areas) and the
    district and served-area layers as GeoJSON."""
    paths = {
        "gpkg": folder / "plan.gpkg",
        "served_areas": folder / "served_areas.geojson",
    }
    cells = gpd.GeoDataFrame(demand, geometry=run.demand.geometry.to_numpy(), crs=run.demand.crs)
    layers: dict[str, gpd.GeoDataFrame] = {"sites": sites, "demand": cells}
    shapes = district_layer(run)
    if shapes is not None:
        layers["districts"] = shapes
        paths["districts_geojson"] = folder / "districts.geojson"
        layers["districts"].to_file(paths["districts_geojson"], driver="GeoJSON")
    layers["served_areas"] = run.served_areas
    run.served_areas.to_file(paths["served_areas"], driver="GeoJSON")
    for name, layer in layers.items():
        layer.to_file(paths["gpkg"], layer=name, driver="GPKG")
    return paths


def frontier_figure(frontier: pd.DataFrame, kpis: dict[str, Any], path: Path) -> Path:
    """Served and covered sessions/day against capital cost, the chosen point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    cost = frontier["capital_cost"].to_numpy(float) / 1e9
    unit = f"capital cost (billion {frontier['currency'].iloc[0] or 'units'})"
    ax.plot(cost, frontier["served_sessions_day"], "o-", label="served (sessions/day)")
    ax.plot(cost, frontier["covered_sessions_day"], "s--", label="within the threshold")
    pick = frontier[frontier["chosen"]]
    ax.scatter(
        pick["capital_cost"] / 1e9, pick["served_sessions_day"], s=160, facecolors="none",
        edgecolors="red", linewidths=2, label=f"plan ({kpis['plan_choice']['rule']})", zorder=5,
    )  # fmt: skip
    for _, row in frontier.iterrows():
        ax.annotate(
            f"{row['stations_dc']} DC",
            (row["capital_cost"] / 1e9, row["served_sessions_day"]),
            textcoords="offset points", xytext=(4, -12), fontsize=8,
        )  # fmt: skip
    ax.set_xlabel(unit)
    ax.set_ylabel("sessions per day")
    ax.set_title("Cost frontier: demand served against capital cost")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def access_figure(demand: pd.DataFrame, kpis: dict[str, Any], path: Path) -> Path:
    """Demand-weighted distribution of access times, with the threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = demand["access_min"].to_numpy(float)
    w = demand["sessions_day"].to_numpy(float)
    ok = np.isfinite(minutes)
    total = w.sum()
    fig, ax = plt.subplots(figsize=(8, 4.6), constrained_layout=True)
    top = max(float(np.ceil(minutes[ok].max())) if ok.any() else 1.0, 1.0)
    bins = np.arange(0.0, top + 1.0, 0.5 if top <= 20 else 1.0)
    ax.hist(minutes[ok], bins=bins.tolist(), weights=w[ok], color="#9ecae1", edgecolor="#3182bd")
    ax.set_xlabel("drive time to the nearest station (min)")
    ax.set_ylabel("sessions per day")
    share = ax.twinx()
    order = np.argsort(minutes[ok], kind="stable")
    cum = np.cumsum(w[ok][order]) / total if total else np.zeros(int(ok.sum()))
    share.plot(minutes[ok][order], 100 * cum, color="#08519c", lw=2)
    share.set_ylim(0, 100)
    share.set_ylabel("cumulative share of demand (%)")
    t = kpis["threshold_min"]
    ax.axvline(t, color="#d62728", ls="--", lw=1.5)
    ax.annotate(
        f"threshold {t:g} min: {100 * kpis['coverage_share']:.1f}% within",
        (t, 0.95),
        xycoords=("data", "axes fraction"),
        ha="left",
        va="top",
        fontsize=9,
        color="#d62728",
    )
    unreachable = total - w[ok].sum()
    ax.set_title(
        f"Access time, demand-weighted: mean {kpis['mean_access_min']:.1f} min, "
        f"95th percentile {kpis['p95_access_min']:.1f} min"
        + (f" ({unreachable:,.0f} sessions/day unreachable)" if unreachable > 0 else "")
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curve_figure(curve: pd.DataFrame, kpis: dict[str, Any], path: Path) -> Path:
    """Demand served and mean access time against the number of stations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    styles = {"alone": ("o-", "#1f77b4", "solved alone"), "nested": ("s--", "#ff7f0e", "nested")}
    alone = curve[curve["source"].isin(["alone", "plan"])].sort_values("stations")
    nested = curve[curve["source"] == "nested"].sort_values("stations")
    for frame, key in ((alone, "alone"), (nested, "nested")):
        if len(frame):
            fmt, color, label = styles[key]
            ax.plot(frame["stations"], 100 * frame["served_share"], fmt, color=color, label=label)
            ax2.plot(frame["stations"], frame["mean_access_min"], fmt, color=color, label=label)
    plan = curve[curve["source"] == "plan"]
    for a, col, scale in ((ax, "served_share", 100.0), (ax2, "mean_access_min", 1.0)):
        a.plot(plan["stations"], scale * plan[col], "*", ms=14, color="#d62728", label="this plan")
        a.set_xlabel("stations")
        a.grid(alpha=0.3)
        a.legend()
    ax.set_ylabel("demand served (%)")
    ax.set_ylim(0, 100)
    ax2.set_ylabel("mean access time (min)")
    feasible = curve["status"] != "optimal"
    note = f" ({int(feasible.sum())} not proven optimal)" if feasible.any() else ""
    fig.suptitle(f"{kpis['scenario']}: demand served against the number of stations{note}")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def demand_figures(demand: gpd.GeoDataFrame, districts: pd.DataFrame, folder: Path) -> list[Path]:
    """Write ``demand_segments.png`` (a map per segment) and ``demand_districts.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    segments = [
        c.removesuffix("_sessions_day")
        for c in demand.columns
        if c.endswith("_sessions_day") and c != "dc_sessions_day"
    ]
    paths = [folder / "demand_segments.png", folder / "demand_districts.png"]
    cols = len(segments) + 1
    from matplotlib.collections import PolyCollection

    fig, axes = plt.subplots(1, cols, figsize=(4.2 * cols, 4.6), constrained_layout=True)
    metric = demand.to_crs(demand.estimate_utm_crs())
    # one polygon outline per cell, drawn as one collection per panel (geopandas'
    # plot makes a patch per cell: five times slower for the same picture)
    rings = [np.asarray(g.exterior.coords) for g in metric.geometry.convex_hull]
    for ax, col, title in zip(
        np.atleast_1d(axes),
        ["sessions_day", *[f"{g}_sessions_day" for g in segments]],
        ["All segments", *[g.capitalize() for g in segments]],
        strict=True,
    ):
        cells = PolyCollection(rings, array=demand[col].to_numpy(), cmap="Oranges", linewidths=0)
        ax.add_collection(cells)
        ax.autoscale_view()
        ax.set_aspect("equal")
        fig.colorbar(cells, ax=ax, shrink=0.6, label="sessions/day per cell")
        ax.set_title(f"{title}: {demand[col].sum():,.0f} sessions/day")
        ax.set_axis_off()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4.8), constrained_layout=True)
    d = districts.set_index("district")
    bottom = np.zeros(len(d))
    for g in segments:
        ax.bar(d.index, d[f"{g}_sessions_day"], bottom=bottom, label=g)
        bottom += d[f"{g}_sessions_day"].to_numpy()
    ax.set_ylabel("public charging sessions per day")
    ax.set_title("Demand per district by segment (peak load above each bar)")
    for x, (total, mw) in enumerate(zip(bottom, d["peak_mw"], strict=True)):
        ax.annotate(f"{mw:.1f} MW", (x, total), ha="center", va="bottom", fontsize=8)
    ax.legend()
    ax.tick_params(axis="x", rotation=30)
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths
