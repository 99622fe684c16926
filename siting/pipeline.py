"""The whole flow of a run: network → demand → candidates → travel times →
optimisation → evaluation → map and report.

:func:`plan` computes everything in memory and returns a :class:`RunResult`
(handy in notebooks); :func:`run` also writes the outputs atomically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from siting import __version__, report
from siting._errors import InputError
from siting._geo import NodeIndex
from siting._io import file_stamp, read_table, read_vector
from siting._osm import read_features
from siting.candidates import build_candidates, load_existing
from siting.demand import (
    ResidentsAssumptions,
    allocate_to_cells,
    h3_cells,
    population_by_district,
    residents_demand,
)
from siting.evaluate import district_figures, evaluate_plan
from siting.maps import plan_map
from siting.network import (
    NetworkSource,
    OnlineOptions,
    buffered,
    build_network,
    geocode_place,
    graph_stats,
)
from siting.optimize import MaximalCovering, SolveResult
from siting.scenario import Scenario
from siting.travel import TravelTimes, graph_matrix, travel_times

log = logging.getLogger(__name__)

STAGES = ("network", "demand", "candidates", "travel", "optimize", "evaluate", "map")


@dataclass
class RunResult:
    """Everything a run computed."""

    scenario: Scenario
    graph: nx.MultiDiGraph
    demand: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    travel: TravelTimes
    result: SolveResult
    sites: gpd.GeoDataFrame
    kpis: dict[str, Any]
    per_district: pd.DataFrame
    per_demand: pd.DataFrame
    districts: gpd.GeoDataFrame | None
    map: folium.Map
    timings: dict[str, float] = field(default_factory=dict)


def plan(
    scenario: Scenario,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Run every stage of ``scenario`` in memory.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`siting.scenario.load_scenario`).
    cache_dir
        Cache folder for the road graph; default :func:`siting.settings.cache_dir`.
    progress
        Called with a short message as each stage starts.
    """
    timings: dict[str, float] = {}
    say = progress or (lambda _msg: None)
    stamps: dict[str, Any] = {}
    sc = scenario
    t_start = time.perf_counter()

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        say(f"[{STAGES.index(name) + 1}/{len(STAGES)}] {name}")
        t0 = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - t0, 3)
        log.info("stage %s: %.2f s", name, timings[name])

    with stage("network"):
        boundary_path = sc.resolve(sc.network.boundary, field="network.boundary")
        boundary_gdf = (
            read_vector(boundary_path, field="network.boundary") if boundary_path else None
        )
        area = boundary_gdf.union_all() if boundary_gdf is not None else None
        nc = sc.network
        online = OnlineOptions(nc.overpass_url, nc.nominatim_url, nc.timeout_s)
        if area is None and nc.source == "place":
            assert nc.place is not None
            area = geocode_place(nc.place, online=online, cache_dir=cache_dir)
        if sc.network.source == "file":
            osm_path = sc.resolve(sc.network.osm_file, field="network.osm_file")
            assert osm_path is not None
            stamps["osm_file"] = file_stamp(osm_path)
            source = NetworkSource(osm_file=osm_path)
        elif sc.network.source == "place":
            source = NetworkSource(place=sc.network.place)
        else:
            assert area is not None
            source = NetworkSource(polygon=buffered(area, sc.network.buffer_m))
        if boundary_path:
            stamps["boundary"] = file_stamp(boundary_path)
        G = build_network(
            source,
            area,
            buffer_m=sc.network.buffer_m,
            speeds_kph=sc.network.speeds_kph,
            fallback_speed_kph=sc.network.fallback_speed_kph,
            cache=sc.network.cache,
            cache_dir=cache_dir,
            online=online,
        )
        if area is None:
            nodes = gpd.GeoSeries(
                gpd.points_from_xy(
                    [d["x"] for _, d in G.nodes(data=True)], [d["y"] for _, d in G.nodes(data=True)]
                ),
                crs="EPSG:4326",
            )
            area = nodes.union_all().convex_hull
        index = NodeIndex.from_graph(G)

    with stage("demand"):
        dc = sc.demand
        pop_path = sc.resolve(dc.population, field="demand.population")
        assert pop_path is not None
        stamps["population"] = file_stamp(pop_path)
        population = read_vector(pop_path, field="demand.population", column=dc.population_column)
        districts = None
        if dc.districts:
            d_path = sc.resolve(dc.districts, field="demand.districts")
            assert d_path is not None
            stamps["districts"] = file_stamp(d_path)
            districts = read_vector(d_path, field="demand.districts", column=dc.district_column)
        totals = None
        if dc.district_totals:
            t_path = sc.resolve(dc.district_totals, field="demand.district_totals")
            assert t_path is not None
            stamps["district_totals"] = file_stamp(t_path)
            table = read_table(
                t_path, field="demand.district_totals", columns=["district", "population"]
            )
            totals = table.set_index("district")["population"].astype(float)
            if (totals < 0).any():
                raise InputError("demand.district_totals: populations must be >= 0")
        pieces = population_by_district(
            population,
            dc.population_column,
            districts,
            district_column=dc.district_column,
            totals=totals,
        )
        cells = h3_cells(area, dc.h3_resolution)
        parts = allocate_to_cells(pieces, cells)
        r = dc.residents
        demand = residents_demand(
            parts,
            cells,
            ResidentsAssumptions(
                r.vehicles, r.ev_share, r.public_share, r.sessions_per_ev_day, r.kwh_per_session
            ),
            metric_crs=pieces.crs,
        )

    with stage("candidates"):
        cc = sc.candidates
        features = None
        if cc.osm_features:
            if sc.network.source != "file":
                log.warning("candidates.osm_features needs an OSM file; using the road grid only")
            else:
                features = read_features(source.osm_file, field="network.osm_file")  # type: ignore[arg-type]
        existing = None
        if cc.existing:
            e_path = sc.resolve(cc.existing, field="candidates.existing")
            assert e_path is not None
            stamps["existing"] = file_stamp(e_path)
            existing = load_existing(e_path)
        candidates = build_candidates(
            index,
            features=features,
            area=area,
            grid_spacing_m=cc.grid_spacing_m,
            snap_max_m=cc.snap_max_m,
            existing=existing,
        )

    with stage("travel"):
        gm = graph_matrix(G, index)
        tt = travel_times(
            gm,
            index,
            demand_lonlat=(demand["lon"].to_numpy(), demand["lat"].to_numpy()),
            site_lonlat=(candidates["lon"].to_numpy(), candidates["lat"].to_numpy()),
            site_nodes=candidates["node"].to_numpy(),
            cutoff_s=sc.travel.cutoff_min * 60.0,
            connector_speed_kph=sc.travel.connector_speed_kph,
        )

    with stage("optimize"):
        oc = sc.optimize
        fixed = np.flatnonzero(candidates["existing"].to_numpy())
        model = MaximalCovering.from_travel_times(
            tt,
            demand["sessions_day"].to_numpy(),
            oc.p,
            threshold_s=oc.threshold_min * 60.0,
            fixed=fixed,
        )
        result = model.solve(oc.solver, time_limit=oc.time_limit_s, gap=oc.gap, threads=oc.threads)

    with stage("evaluate"):
        kpis, per_site, per_demand = evaluate_plan(
            demand, candidates, result.selected, tt, threshold_s=oc.threshold_min * 60.0
        )
        sites = candidates.iloc[result.selected].reset_index(drop=True)
        sites = sites.join(per_site, on="site_id")
        per_district = district_figures(
            demand,
            per_demand,
            candidates,
            result.selected,
            districts,
            district_column=dc.district_column,
        )

    kpis = {
        "scenario": sc.name,
        **kpis,
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
            "tie_break": result.extra.get("tie_break"),
        },
        "network": graph_stats(G),
        "travel": {"pairs_within_cutoff": int(tt.matrix.nnz), "cutoff_min": sc.travel.cutoff_min},
        "inputs": stamps,
        "siting_version": __version__,
        "seed": sc.seed,
    }
    kpis["solver_label"] = result.describe()

    with stage("map"):
        fmap = plan_map(
            sites,
            demand,
            districts=districts,
            district_column=dc.district_column,
            kpis=kpis,
            title=f"siting: {sc.name}",
        )

    timings["total"] = round(time.perf_counter() - t_start, 3)
    kpis["timings_s"] = timings
    kpis["created"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return RunResult(
        sc,
        G,
        demand,
        candidates,
        tt,
        result,
        sites,
        kpis,
        per_district,
        per_demand,
        districts,
        fmap,
        timings,
    )


def run(
    scenario: Scenario,
    out_dir: Path,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Run ``scenario`` and write its outputs into ``out_dir`` atomically.

    The run log (``run.log``) records every stage; nothing is written to
    ``out_dir`` unless the whole run succeeds.
    """
    with report.atomic_dir(out_dir) as tmp:
        handler = logging.FileHandler(tmp / "run.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger("siting")
        old_level = root.level
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
        try:
            log.info("run %s (siting %s)", scenario.name, __version__)
            result = plan(scenario, cache_dir=cache_dir, progress=progress)
            report.write_outputs(result, tmp)
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()
    return result
