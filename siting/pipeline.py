"""The whole flow of a run: network → demand → candidates → travel times →
optimisation → evaluation → map and report.

:func:`plan` computes everything in memory and returns a :class:`RunResult`
(handy in notebooks); :func:`run` also writes the outputs atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from siting import __version__, _cache, report, settings
from siting._errors import InfeasibleError, InputError
from siting._geo import NodeIndex
from siting._io import file_stamp, hash_key, read_table, read_vector
from siting._osm import read_features, read_proxies
from siting._outdir import atomic_dir
from siting._solvers import StageClock
from siting.candidates import build_candidates, load_existing
from siting.demand import (
    Segment,
    allocate_to_cells,
    build_demand,
    corridor_cells,
    demand_points,
    district_allocation,
    district_summary,
    h3_cells,
    layer_on_cells,
    points_on_cells,
    population_by_district,
)
from siting.evaluate import district_figures, evaluate_plan, served_areas
from siting.existing import (
    fetch_ocm,
    merge_stations,
    read_osm_stations,
    stations_from_features,
)
from siting.figures import plan_figures, station_figures
from siting.maps import plan_map
from siting.network import (
    NetworkSource,
    OnlineOptions,
    buffered,
    build_network,
    download_features,
    geocode_place,
    graph_stats,
)
from siting.optimize import Phase, SolveResult
from siting.planning import decide, minimum_plans
from siting.results import Inputs, RunResult
from siting.scenario import Scenario, resolve_segments
from siting.travel import TravelTimes, graph_matrix, travel_times

log = logging.getLogger(__name__)

#: Bump when the cached demand layers or travel times change in content or layout.
_DEMAND_CACHE_FORMAT = 1
_TRAVEL_CACHE_FORMAT = 1

#: Demand fields the demand layers depend on (the rest weigh them afterwards).
_DEMAND_FIELDS = frozenset(
    {
        "h3_resolution",
        "population",
        "population_column",
        "jobs",
        "jobs_column",
        "districts",
        "district_column",
        "district_totals",
    }
)

STAGES = ("network", "demand", "candidates", "travel", "optimize", "evaluate", "map")


def inputs_key(scenario: Scenario) -> str:
    """Fingerprint of the scenario fields :func:`prepare` depends on.

    Everything but the name, description, seed, the optimisation request, the
    adoption preset and the segments' figures (only which segments exist, and
    whether some inbound demand sits at the entry corridors, matter).
    """
    data = scenario.model_dump(mode="json")
    for key in ("name", "description", "seed", "optimize", "costs", "benefits"):
        data.pop(key, None)
    dc = data["demand"]
    for key in ("preset", "presets_file", "peak_hour_share"):
        dc.pop(key, None)
    inbound = scenario.demand.inbound
    dc["segments"] = [n for n in ("residents", "inbound", "taxis") if dc.pop(n, None) is not None]
    dc["corridors"] = bool(inbound and inbound.corridor_share > 0)
    data["base_dir"] = str(scenario.base_dir.resolve())
    data["data_path"] = str(scenario.data_path)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prepare(
    scenario: Scenario,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Inputs:
    """Build the road graph, demand layers, candidates and travel times of ``scenario``."""
    timings: dict[str, float] = {}
    say = progress or (lambda _msg: None)
    stamps: dict[str, Any] = {}
    sc = scenario

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

    root = cache_dir or settings.cache_dir()
    use_cache = sc.network.cache

    with stage("demand"):
        dc = sc.demand
        osm_path = source.osm_file
        # OSM proxies: only read when a layer is missing or taxis need their hubs
        wanted = dc.population is None or dc.jobs is None or dc.taxis is not None
        if osm_path and wanted:
            stamps["osm_file"] = file_stamp(osm_path)
        paths: dict[str, Path | None] = {}
        for name in ("population", "districts", "jobs", "district_totals"):
            path = paths[name] = sc.resolve(getattr(dc, name), field=f"demand.{name}")
            if path is not None:
                stamps[name] = file_stamp(path)
        for name in ("population", "jobs"):
            if paths[name] is None and osm_path is not None:
                log.warning("demand.%s: no layer given; using an OSM proxy", name)
        corridor_share = dc.inbound.corridor_share if dc.inbound else 0.0
        demand_key = hash_key(
            "demand",
            _DEMAND_CACHE_FORMAT,
            G.graph.get("siting_key"),
            area.wkb_hex,
            {k: v for k, v in dc.model_dump(mode="json").items() if k in _DEMAND_FIELDS},
            sorted((k, v["sha256"]) for k, v in stamps.items() if k != "boundary"),
            corridor_share > 0,
            dc.taxis is not None,
            version("h3"),
        )
        layers = _cache.load(root, "demand", demand_key) if use_cache else None
        if layers is None:
            layers = _demand_layers(sc, G, area, paths, osm_path if wanted else None)
            if use_cache:
                _cache.save(root, "demand", demand_key, layers)
        districts, cells, parts, metric_crs, jobs, hubs, corridors = layers

    with stage("candidates"):
        cc = sc.candidates
        features = None
        if cc.osm_features:
            if osm_path is None:
                log.warning("candidates.osm_features needs an OSM file; using the road grid only")
            else:
                features = read_features(osm_path, field="network.osm_file")
        existing = gather_existing(sc, osm_path, area, stamps, online=online, cache_root=root)
        candidates = build_candidates(
            index,
            features=features,
            area=area,
            grid_spacing_m=cc.grid_spacing_m,
            snap_max_m=cc.snap_max_m,
            existing=existing,
        )

    with stage("travel"):
        points = demand_points(cells, parts, metric_crs)  # every cell
        site_lonlat = (candidates["lon"].to_numpy(), candidates["lat"].to_numpy())
        site_nodes = candidates["node"].to_numpy()
        travel_key = hash_key(
            "travel",
            _TRAVEL_CACHE_FORMAT,
            G.graph.get("siting_key"),
            [hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for a in points],
            [hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for a in site_lonlat],
            hashlib.sha256(np.ascontiguousarray(site_nodes, dtype=np.int64).tobytes()).hexdigest(),
            sc.travel.cutoff_min,
            sc.travel.connector_speed_kph,
        )
        tt = _cache.load(root, "travel", travel_key) if use_cache else None
        if not isinstance(tt, TravelTimes):
            tt = travel_times(
                graph_matrix(G, index),
                index,
                demand_lonlat=points,
                site_lonlat=site_lonlat,
                site_nodes=site_nodes,
                cutoff_s=sc.travel.cutoff_min * 60.0,
                connector_speed_kph=sc.travel.connector_speed_kph,
            )
            if use_cache:
                _cache.save(root, "travel", travel_key, tt)

    return Inputs(
        inputs_key(sc),
        G,
        index,
        area,
        districts,
        cells,
        parts,
        metric_crs,
        jobs,
        hubs,
        corridors,
        candidates,
        tt,
        stamps,
        timings,
    )


def gather_existing(
    sc: Scenario,
    osm_path: Path | None,
    area: Any,
    stamps: dict[str, Any],
    *,
    online: OnlineOptions,
    cache_root: Path,
) -> pd.DataFrame | None:
    """Existing stations from the scenario's file, OSM (the extract, or downloaded with
    an online graph) and Open Charge Map."""
    cc = sc.candidates
    frames = []
    if cc.existing:
        e_path = sc.resolve(cc.existing, field="candidates.existing")
        assert e_path is not None
        stamps["existing"] = file_stamp(e_path)
        frames.append(load_existing(e_path))
    if cc.existing_osm and osm_path is not None:
        frames.append(read_osm_stations(osm_path))
    elif cc.existing_osm and sc.network.source != "file":
        found = download_features(
            area,
            {"amenity": "charging_station"},
            what="the charging stations (candidates.existing_osm)",
            online=online,
            cache_dir=cache_root,
        )
        frames.append(stations_from_features(found))
    if cc.existing_ocm_url:
        key = cc.existing_ocm_key or os.environ.get("OCM_API_KEY")
        frames.append(
            fetch_ocm(cc.existing_ocm_url, area.bounds, key=key, timeout_s=sc.network.timeout_s)
        )
    merged = merge_stations(frames)
    return merged if len(merged) else None


def _explain_reach(
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


def _demand_layers(
    sc: Scenario,
    G: nx.MultiDiGraph,
    area: Any,
    paths: dict[str, Path | None],
    osm_path: Path | None,
) -> tuple[Any, ...]:
    """The demand stage's layers (what the ``demand`` cache stores).

    Returns ``(districts, cells, parts, metric_crs, jobs, hubs, corridors)``.
    """
    dc = sc.demand
    proxies = read_proxies(osm_path, field="network.osm_file") if osm_path else None

    def layer(name: str, column: str | None) -> gpd.GeoDataFrame | None:
        path = paths[name]
        return None if path is None else read_vector(path, field=f"demand.{name}", column=column)

    def proxy(name: str) -> gpd.GeoDataFrame:
        if proxies is None:
            raise InputError(
                f"demand.{name}: no layer given, and no OSM file to derive a proxy from "
                f"(set demand.{name} and demand.{name}_column)"
            )
        pts = getattr(proxies, name)
        return gpd.GeoDataFrame(
            {"w": [w for *_, w in pts]},
            geometry=gpd.points_from_xy([p[0] for p in pts], [p[1] for p in pts]),
            crs="EPSG:4326",
        )

    population = layer("population", dc.population_column)
    pop_column = dc.population_column or "w"
    if population is None:
        population = proxy("population")
    districts = layer("districts", dc.district_column)
    totals = None
    if paths["district_totals"] is not None:
        table = read_table(
            paths["district_totals"],
            field="demand.district_totals",
            columns=["district", "population"],
        )
        totals = table.set_index("district")["population"].astype(float)
        if (totals < 0).any():
            raise InputError("demand.district_totals: populations must be >= 0")
    pieces = population_by_district(
        population, pop_column, districts, district_column=dc.district_column, totals=totals
    )
    cells = h3_cells(area, dc.h3_resolution)
    parts = allocate_to_cells(pieces, cells)
    jobs_layer = layer("jobs", dc.jobs_column)
    if jobs_layer is None:
        jobs_layer = proxy("jobs")
    jobs = layer_on_cells(jobs_layer, dc.jobs_column or "w", cells, field="demand.jobs")
    hubs = points_on_cells(proxies.hubs, cells, once_per=proxies.hub_kinds) if proxies else None
    corridor_share = dc.inbound.corridor_share if dc.inbound else 0.0
    corridors = corridor_cells(G, area, cells) if corridor_share > 0 else None
    return districts, cells, parts, pieces.crs, jobs, hubs, corridors


def plan(
    scenario: Scenario,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    inputs: Inputs | None = None,
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
    inputs
        Built by :func:`prepare` for a scenario with the same :func:`inputs_key`;
        built here when not given.
    """
    t_start = time.perf_counter()
    if inputs is None:
        inputs = prepare(scenario, cache_dir=cache_dir, progress=progress)
    elif inputs.key != inputs_key(scenario):
        raise ValueError(
            "inputs: built for a scenario with other network, demand-layer, candidate or "
            f"travel settings (key {inputs.key}, this scenario needs {inputs_key(scenario)})"
        )
    timings: dict[str, float] = dict(inputs.timings)
    say = progress or (lambda _msg: None)
    stamps = dict(inputs.stamps)
    sc = scenario
    G, index, candidates = inputs.graph, inputs.index, inputs.candidates
    districts, dc = inputs.districts, sc.demand

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        say(f"[{STAGES.index(name) + 1}/{len(STAGES)}] {name}")
        t0 = time.perf_counter()
        yield
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 3)
        log.info("stage %s: %.2f s", name, timings[name])

    with stage("demand"):
        segments, demand, tt = demand_for(sc, inputs)
        alloc = district_allocation(demand, inputs.parts, segments)
        demand_by_district = district_summary(
            alloc, inputs.parts, peak_hour_share=dc.peak_hour_share, segments=segments
        )

    with stage("optimize"):
        oc = sc.optimize
        deadline = StageClock.deadline(oc.time_limit_s)
        threshold_s = oc.threshold_min * 60.0
        reach = _explain_reach(tt, demand["sessions_day"].to_numpy(), threshold_s, model=oc.model)
        demands, segments_of, tt_of = {dc.preset: demand}, {dc.preset: segments}, {dc.preset: tt}
        for preset in oc.minimum.presets if oc.minimum else []:
            if preset not in demands:
                other = sc.with_overrides({"demand.preset": preset})
                segments_of[preset], demands[preset], tt_of[preset] = demand_for(other, inputs)
        # the minimum plans need nothing from the plan: solved beside it; both end
        # by the stage's deadline (optimize.time_limit_s from the stage's start)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="minimum") as beside:
            minimum_job = beside.submit(
                minimum_plans,
                sc,
                demands,
                segments_of,
                candidates,
                tt_of,
                cache_root=(cache_dir or settings.cache_dir()) if sc.network.cache else None,
                deadline=deadline,
            )
            decision = decide(
                sc, segments, demand, candidates, tt, index.to_metric, deadline=deadline
            )
            minimum = minimum_job.result()
        result, alone, phases = decision.result, decision.alone, decision.phases

    with stage("evaluate"):
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
        areas = served_areas(demand, per_demand, sites)
        reaching = [
            row["result"]
            for row in minimum
            if row["preset"] == dc.preset and "result" in row and row["form"] == "capacitated"
        ]
        curve = served_curve(
            demand,
            candidates,
            tt,
            threshold_s,
            plan=result,
            alone=alone,
            phases=phases,
            minimum=reaching,
        )
        if phases is not None:
            first = {}
            for ph in reversed(phases):
                for j in ph.selected.tolist():
                    first[j] = ph.p
            sites["phase"] = [first.get(int(j), oc.p) for j in result.selected]
            kpis["phasing"] = [
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
        station_figures(sites, result, decision, oc)
        kpis.update(
            plan_figures(sc, result, decision, demand, segments, tt, threshold_s, candidates, kpis)
        )
        kpis["minimum"] = [{k: v for k, v in row.items() if k != "result"} for row in minimum]
        per_district = district_figures(
            alloc,
            per_demand,
            demand,
            candidates,
            result.selected,
            districts,
            district_column=dc.district_column,
        )
        per_district = demand_by_district.merge(
            per_district.drop(columns=["demand"]), on="district", how="outer"
        )

    kpis = {
        "scenario": sc.name,
        **kpis,
        "demand": {
            "preset": dc.preset,
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
                for name, seg in segments.items()
            },
            "peak_mw": round(float(demand_by_district["peak_mw"].sum()), 3),
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
        },
        "network": graph_stats(G),
        "travel": {"pairs_within_cutoff": int(tt.matrix.nnz), "cutoff_min": sc.travel.cutoff_min},
        "out_of_reach": reach,
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
            per_district=per_district,
            served_areas=areas,
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
        areas,
        curve,
        timings,
    )


def demand_for(
    sc: Scenario, inputs: Inputs
) -> tuple[dict[str, Segment], gpd.GeoDataFrame, TravelTimes]:
    """The segments, demand cells and their travel-time rows of ``sc`` on ``inputs``."""
    dc = sc.demand
    segments = resolve_segments(sc)
    corridor_share = dc.inbound.corridor_share if dc.inbound else 0.0
    demand = build_demand(
        inputs.cells,
        inputs.parts,
        segments,
        jobs=inputs.jobs,
        hubs=inputs.hubs,
        corridors=inputs.corridors,
        corridor_share=corridor_share,
        taxi_jobs_weight=dc.taxis.jobs_weight if dc.taxis else 0.5,
        districts=inputs.districts,
        district_column=dc.district_column,
        metric_crs=inputs.metric_crs,
    )
    # travel times were built for every cell; keep the rows of cells with demand
    cell_row = pd.Series(np.arange(len(inputs.cells)), index=inputs.cells["h3"].to_numpy())
    tt = inputs.travel.demand_rows(cell_row.loc[demand["h3"].to_numpy()].to_numpy())
    return segments, demand, tt


def served_per_point(result: SolveResult) -> np.ndarray | None:
    """Sessions per day served at each demand point, when the model says (capacitated)."""
    x = result.extra
    if "served_ac" in x and "served_dc" in x:
        return np.asarray(x["served_ac"], dtype=float) + np.asarray(x["served_dc"], dtype=float)
    return None


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
) -> pd.DataFrame:
    """Demand served and access time against the number of stations.

    One row per solved plan: the plan itself, each ``optimize.curve`` size solved
    alone, with phases each nested phase, and the minimum plans (``source`` says
    which), so the curve reaches the station count that serves the target.
    """
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
            }
        )
    out = pd.DataFrame(rows).drop_duplicates(["stations", "source"])
    return out.sort_values(["stations", "source"], kind="stable").reset_index(drop=True)


def run(
    scenario: Scenario,
    out_dir: Path,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    inputs: Inputs | None = None,
    extra_files: dict[str, str] | None = None,
) -> RunResult:
    """Run ``scenario`` and write its outputs into ``out_dir`` atomically.

    The run log (``run.log``) records every stage; nothing is written to
    ``out_dir`` unless the whole run succeeds. ``inputs`` as for :func:`plan`;
    ``extra_files`` (name → text) are written into the folder with the outputs.
    """
    with atomic_dir(out_dir) as tmp:
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
            result = plan(scenario, cache_dir=cache_dir, progress=progress, inputs=inputs)
            report.write_outputs(result, tmp)
            for name, text in (extra_files or {}).items():
                (tmp / name).write_text(text, encoding="utf-8")
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()
    return result
