"""Stage 2a — the demand layers on a hexagonal (H3) grid.

Population and jobs layers are any polygons (area-weighted) or points with a
numeric column; for a city without them, :func:`siting._osm.read_proxies`
derives proxies from OSM buildings, land use and points of interest. The
residents' population inside each district is rescaled so that district sums
match the official totals exactly. :func:`demand_layers` is the stage: it
reads the layers, puts them on the cells and caches the result.
"""

from __future__ import annotations

import logging
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import h3
import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from siting import _cache
from siting._io import WGS84, file_stamp, hash_key, read_table, read_vector, utm_crs
from siting._osm import read_proxies
from siting._overlay import counts, rescale, split
from siting.errors import DataFileError, InputError

if TYPE_CHECKING:
    from siting.scenario import Scenario

log = logging.getLogger(__name__)


#: Bump when the cached demand layers change in content or layout.
_CACHE_FORMAT = 1

#: Demand fields the layers depend on (the rest weigh them afterwards).
_LAYER_FIELDS = frozenset(
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

Layers = tuple[Any, ...]


def demand_layers(
    sc: Scenario,
    G: nx.MultiDiGraph,
    area: BaseGeometry,
    osm_path: Path | None,
    stamps: dict[str, Any],
    *,
    cache_root: Path,
) -> Layers:
    """Stage 2a of ``sc``: districts, cells, population parts and the jobs, hub and
    corridor weights on the cells, from the cache when the inputs are unchanged.

    Returns ``(districts, cells, parts, metric_crs, jobs, hubs, corridors)``. A
    layer not given is derived from the OSM file (``osm_path``), with a warning.
    The files read are stamped into ``stamps``.
    """
    dc = sc.demand
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
    key = hash_key(
        "demand",
        _CACHE_FORMAT,
        G.graph.get("siting_key"),
        area.wkb_hex,
        {k: v for k, v in dc.model_dump(mode="json").items() if k in _LAYER_FIELDS},
        sorted((k, v["sha256"]) for k, v in stamps.items() if k != "boundary"),
        corridor_share > 0,
        dc.taxis is not None,
        version("h3"),
    )
    use_cache = sc.network.cache
    layers = _cache.load(cache_root, "demand", key) if use_cache else None
    if layers is None:
        layers = _read_layers(sc, G, area, paths, osm_path if wanted else None)
        if use_cache:
            _cache.save(cache_root, "demand", key, layers)
    return tuple(layers)


def _read_layers(
    sc: Scenario,
    G: nx.MultiDiGraph,
    area: Any,
    paths: dict[str, Path | None],
    osm_path: Path | None,
) -> tuple[Any, ...]:
    """The demand layers read and put on the cells (what the ``demand`` cache stores).

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


def h3_cells(boundary: BaseGeometry, resolution: int) -> gpd.GeoDataFrame:
    """H3 cells that overlap ``boundary`` (WGS84), as hexagon polygons."""
    shape = h3.geo_to_h3shape(boundary.__geo_interface__)
    cells = sorted(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))
    if not cells:
        raise InputError("demand: the city boundary covers no H3 cell")
    polys = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    return gpd.GeoDataFrame({"h3": cells}, geometry=polys, crs=WGS84)


def population_by_district(
    population: gpd.GeoDataFrame,
    column: str,
    districts: gpd.GeoDataFrame | None,
    *,
    district_column: str = "name",
    totals: pd.Series | None = None,
) -> gpd.GeoDataFrame:
    """Population pieces, one per (input feature ∩ district), in a metric CRS.

    Parameters
    ----------
    population
        Polygons (area-weighted) or points with a numeric ``column``.
    column
        Population column.
    districts
        District polygons; ``None`` treats the layer as one district, ``"city"``.
    district_column
        District name column of ``districts``.
    totals
        Official population per district name; when given, pieces are rescaled
        so that each district's sum equals its total.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``district``, ``pop`` and the piece geometry (metric CRS).
    """
    values = counts(population, column, field="demand.population_column")
    metric = utm_crs(population)
    pop = gpd.GeoDataFrame(
        {"pop": values.to_numpy(float)}, geometry=population.geometry, crs=population.crs
    ).to_crs(metric)
    if districts is None:
        zones = gpd.GeoDataFrame(
            {"district": ["city"]}, geometry=[pop.union_all().convex_hull.buffer(1.0)], crs=metric
        )
    else:
        if district_column not in districts.columns:
            raise DataFileError(
                f"demand.district_column: districts have no column {district_column!r}"
            )
        zones = gpd.GeoDataFrame(
            {"district": districts[district_column].astype(str)},
            geometry=districts.geometry,
            crs=districts.crs,
        ).to_crs(metric)
        zones = zones.dissolve("district", as_index=False)
    if not pop.intersects(zones.union_all()).any():
        raise DataFileError(
            "demand.population: the population layer does not overlap the districts"
        )
    pieces = split(pop, "pop", zones)
    if totals is not None:
        pieces = rescale(pieces, zones, totals)
    return pieces


def allocate_to_cells(pieces: gpd.GeoDataFrame, cells: gpd.GeoDataFrame) -> pd.DataFrame:
    """Spread population pieces onto cells; return one row per (cell, district).

    Columns: ``h3``, ``district``, ``pop``, ``cx``, ``cy`` (population-weighted
    centroid of the part, metric CRS). District sums are kept exactly: mass
    that falls outside every cell (a sliver at the edge) is put back by
    rescaling within its district.
    """
    cells_m = cells.to_crs(pieces.crs)
    parts = split(pieces, "pop", cells_m[["h3", "geometry"]], keep=["district"])
    cent = parts.geometry.centroid
    parts = pd.DataFrame(
        {
            "h3": parts["h3"],
            "district": parts["district"],
            "pop": parts["pop"],
            "wx": cent.x * parts["pop"],
            "wy": cent.y * parts["pop"],
        }
    )
    out = parts.groupby(["h3", "district"], as_index=False, sort=True).sum()
    want = pieces.groupby("district")["pop"].sum()
    got = out.groupby("district")["pop"].sum()
    factor = (want / got.replace(0.0, np.nan)).fillna(1.0)
    f = out["district"].map(factor).to_numpy()
    out["pop"] *= f
    out["wx"] *= f
    out["wy"] *= f
    with np.errstate(invalid="ignore", divide="ignore"):
        out["cx"] = out["wx"] / out["pop"]
        out["cy"] = out["wy"] / out["pop"]
    return out.drop(columns=["wx", "wy"])


def layer_on_cells(
    layer: gpd.GeoDataFrame, column: str, cells: gpd.GeoDataFrame, *, field: str
) -> pd.Series:
    """Sum of ``layer[column]`` falling in each cell (polygons area-weighted, points whole).

    Returns a Series indexed by ``h3`` (every cell, zeros included).
    """
    values = counts(layer, column, field=field)
    metric = utm_crs(cells)
    lay = gpd.GeoDataFrame(
        {"v": values.to_numpy(float)}, geometry=layer.geometry.to_numpy(), crs=layer.crs
    ).to_crs(metric)
    zones = cells[["h3", "geometry"]].to_crs(metric)
    if not lay.intersects(zones.union_all()).any():
        raise DataFileError(f"{field}: the layer does not overlap the city")
    parts = split(lay, "v", zones)
    return parts.groupby("h3")["v"].sum().reindex(cells["h3"], fill_value=0.0)


def points_on_cells(
    points: list[tuple[float, float, float]],
    cells: gpd.GeoDataFrame,
    *,
    once_per: list[str] | None = None,
) -> pd.Series:
    """Sum of point weights (lon, lat, weight) per cell, by H3 index.

    With ``once_per`` (a label per point), a label counts once per cell: an airport
    mapped as an aerodrome and two terminals is one airport.
    """
    res = h3.get_resolution(cells["h3"].iloc[0])
    acc: dict[str, float] = {}
    seen: set[tuple[str, str]] = set()
    for k, (lon, lat, w) in enumerate(points):
        c = h3.latlng_to_cell(lat, lon, res)
        if once_per is not None:
            if (c, once_per[k]) in seen:
                continue
            seen.add((c, once_per[k]))
        acc[c] = acc.get(c, 0.0) + w
    return pd.Series(acc, dtype=float).reindex(cells["h3"], fill_value=0.0)


def corridor_cells(
    G: nx.MultiDiGraph, boundary: BaseGeometry, cells: gpd.GeoDataFrame
) -> pd.Series:
    """Entry corridors: where motorway, trunk and primary roads enter the city.

    Each edge of those classes from a node outside ``boundary`` to a node inside
    counts once, at the cell of its inside node.
    """
    inside = prep(boundary)
    main = {"motorway", "trunk", "primary", "motorway_link", "trunk_link"}
    res = h3.get_resolution(cells["h3"].iloc[0])
    acc: dict[str, float] = {}
    for u, v, d in G.edges(data=True):
        hw = d.get("highway")
        hw = hw[0] if isinstance(hw, list) else hw
        if hw not in main:
            continue
        pu, pv = G.nodes[u], G.nodes[v]
        if not inside.contains(Point(pu["x"], pu["y"])) and inside.contains(
            Point(pv["x"], pv["y"])
        ):
            c = h3.latlng_to_cell(pv["y"], pv["x"], res)
            acc[c] = acc.get(c, 0.0) + 1.0
    return pd.Series(acc, dtype=float).reindex(cells["h3"], fill_value=0.0)


def demand_points(
    cells: gpd.GeoDataFrame, residents_parts: gpd.GeoDataFrame, metric_crs: object
) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's demand point (lon, lat), in the order of ``cells``: the
    population-weighted centre where people live, else the cell's centre."""
    h3_ids = cells["h3"].to_numpy()
    rp = residents_parts.assign(
        wx=residents_parts["cx"] * residents_parts["pop"],
        wy=residents_parts["cy"] * residents_parts["pop"],
    )
    cent = rp.groupby("h3")[["wx", "wy", "pop"]].sum()
    cent = cent[cent["pop"] > 0]
    xy = gpd.GeoSeries(
        gpd.points_from_xy(cent["wx"] / cent["pop"], cent["wy"] / cent["pop"]), crs=metric_crs
    ).to_crs(WGS84)
    lon = pd.Series(xy.x.to_numpy(), index=cent.index)
    lat = pd.Series(xy.y.to_numpy(), index=cent.index)
    centre = np.array([h3.cell_to_latlng(c) for c in h3_ids]).reshape(-1, 2)
    lon_all = lon.reindex(h3_ids).fillna(pd.Series(centre[:, 1], index=h3_ids)).to_numpy()
    lat_all = lat.reindex(h3_ids).fillna(pd.Series(centre[:, 0], index=h3_ids)).to_numpy()
    return lon_all, lat_all


def cell_districts(
    cells: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None, column: str, metric_crs: object
) -> np.ndarray:
    """Each cell's district: the district it overlaps most ("outside" when none)."""
    if districts is None:
        return np.full(len(cells), "city", dtype=object)
    c = cells[["h3", "geometry"]].to_crs(metric_crs)
    d = gpd.GeoDataFrame(
        {"district": districts[column].astype(str)}, geometry=districts.geometry, crs=districts.crs
    ).to_crs(metric_crs)
    inter = gpd.overlay(c, d, how="intersection", keep_geom_type=True)
    inter["a"] = inter.geometry.area
    best = inter.sort_values(["h3", "a"], ascending=[True, False]).drop_duplicates("h3")
    return best.set_index("h3")["district"].reindex(cells["h3"]).fillna("outside").to_numpy()
