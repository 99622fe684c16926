"""Stage 1 — the drivable road network, with a travel time on every edge.

Three sources stand behind :func:`build_network`:

1. online: OSMnx downloads the roads for a place name or a polygon;
2. offline: a local OSM file (``.osm.pbf``, ``.osm``, ``.osm.bz2``), filtered to
   drivable highways with pyosmium, repaired where ways leave the extract, and
   turned into a graph by OSMnx itself (``graph_from_xml``);
3. a cache of the finished graph, keyed by a hash of the source and parameters
   (see :mod:`siting._cache`).

Whatever the source, the graph is clipped to the city boundary plus a buffer,
reduced to its largest strongly connected component (so every site can be
reached from every demand point and back), and given ``speed_kph`` and
``travel_time`` (seconds) on every edge. The online services (geocoding, features,
the download switch) are in :mod:`siting._osm_online`.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
from shapely.geometry.base import BaseGeometry

from siting import _cache, settings
from siting._geo import NodeIndex, node_arrays
from siting._invariants import present
from siting._io import WGS84, file_stamp, hash_key, read_vector, sha256_file, utm_crs
from siting._osm import check_osm_file, write_drive_xml
from siting._osm_online import (
    OnlineOptions,
    as_polygon,
    download,
    download_features,
    geocode_place,
    osmnx_online,
)
from siting.errors import DataFileError, InputError

if TYPE_CHECKING:
    from siting.scenario import Scenario

__all__ = [
    "NetworkSource",
    "OnlineOptions",
    "RoadNetwork",
    "add_travel_times",
    "buffered",
    "build_network",
    "download_features",
    "finish_graph",
    "geocode_place",
    "graph_from_file",
    "graph_stats",
    "network_stage",
]

log = logging.getLogger(__name__)

#: Bump when the cached graph's content or format changes.
_CACHE_FORMAT = 2


@dataclass(frozen=True)
class NetworkSource:
    """What to build the graph from; exactly one of the three inputs is used."""

    osm_file: Path | None = None
    place: str | None = None
    polygon: BaseGeometry | None = None


@dataclass(frozen=True)
class RoadNetwork:
    """Stage 1's result: the graph, its node index, the city area and where it came from."""

    graph: nx.MultiDiGraph
    index: NodeIndex
    area: BaseGeometry
    osm_file: Path | None
    online: OnlineOptions


def network_stage(
    sc: Scenario, stamps: dict[str, Any], *, cache_dir: Path | None = None
) -> RoadNetwork:
    """Stage 1 of ``sc``: the road graph from its file, place or polygon.

    The city area is the boundary layer, else the geocoded place, else the hull of
    the graph's nodes. The files read are stamped into ``stamps`` (provenance).
    """
    nc = sc.network
    boundary_path = sc.resolve(nc.boundary, field="network.boundary")
    area = None
    if boundary_path:
        stamps["boundary"] = file_stamp(boundary_path)
        area = read_vector(boundary_path, field="network.boundary").union_all()
    online = OnlineOptions(nc.overpass_url, nc.nominatim_url, nc.timeout_s)
    if area is None and nc.source == "place":
        place = present(nc.place, "network.place")  # the scenario requires it
        area = geocode_place(place, online=online, cache_dir=cache_dir)
    if nc.source == "file":
        osm_path = present(
            sc.resolve(nc.osm_file, field="network.osm_file"), "network.osm_file"
        )  # the scenario requires it
        stamps["osm_file"] = file_stamp(osm_path)
        source = NetworkSource(osm_file=osm_path)
    elif nc.source == "place":
        source = NetworkSource(place=nc.place)
    else:
        area = present(area, "network.boundary")  # the scenario requires it
        source = NetworkSource(polygon=buffered(area, nc.buffer_m))
    G = build_network(
        source,
        area,
        buffer_m=nc.buffer_m,
        speeds_kph=nc.speeds_kph,
        fallback_speed_kph=nc.fallback_speed_kph,
        cache=nc.cache,
        cache_dir=cache_dir,
        online=online,
    )
    if area is None:
        _, x, y = node_arrays(G)
        area = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=WGS84).union_all().convex_hull
    return RoadNetwork(G, NodeIndex.from_graph(G), area, source.osm_file, online)


def build_network(
    source: NetworkSource,
    boundary: BaseGeometry | None,
    *,
    buffer_m: float = 1000.0,
    speeds_kph: dict[str, float] | None = None,
    fallback_speed_kph: float = settings.FALLBACK_SPEED_KPH,
    cache: bool = True,
    cache_dir: Path | None = None,
    online: OnlineOptions | None = None,
) -> nx.MultiDiGraph:
    """Build (or load from cache) the drivable graph with travel times.

    Parameters
    ----------
    source
        The OSM file, place name or polygon to build from.
    boundary
        City boundary in WGS84. The graph is clipped to it plus ``buffer_m``.
        ``None`` keeps everything (the place's own polygon for online sources).
    buffer_m
        Buffer around the boundary, metres, so that trips along the city's
        edge may use roads just outside it.
    speeds_kph
        Speeds per highway class overriding :data:`settings.HIGHWAY_SPEEDS_KPH`.
    fallback_speed_kph
        Speed for highway classes with neither ``maxspeed`` nor a table entry.
    cache
        Read and write the finished graph in the cache folder.
    cache_dir
        Cache folder; default :func:`settings.cache_dir`.
    online
        Service URLs and timeout for the online sources.

    Returns
    -------
    networkx.MultiDiGraph
        An OSMnx graph (``crs`` EPSG:4326) with ``travel_time`` on every edge.
    """
    online = online or OnlineOptions()
    cache_root = cache_dir or settings.cache_dir()
    speeds = {**settings.HIGHWAY_SPEEDS_KPH, **(speeds_kph or {})}
    clip = buffered(boundary, buffer_m) if boundary is not None else None
    key = _cache_key(source, clip, speeds, fallback_speed_kph)
    if cache:
        G = _cache.load(cache_root, "graph", key)
        if isinstance(G, nx.MultiDiGraph):
            log.info("network: cached graph %s (%d nodes, %d edges)", key, len(G), G.size())
            return G

    import osmnx as ox  # here, not at the top: a warm run never needs it (1.2 s)

    if source.osm_file is not None:
        G = graph_from_file(source.osm_file, bbox=clip.bounds if clip is not None else None)
    elif source.place is not None:
        place = source.place
        with osmnx_online(online, cache_root):
            G = download(
                lambda: ox.graph_from_place(
                    place, network_type="drive", retain_all=True, truncate_by_edge=True
                ),
                place,
            )
    elif source.polygon is not None:
        poly = as_polygon(source.polygon, "network.boundary")
        with osmnx_online(online, cache_root):
            G = download(
                lambda: ox.graph_from_polygon(
                    poly, network_type="drive", retain_all=True, truncate_by_edge=True
                ),
                "the boundary polygon",
            )
    else:
        raise InputError("network source: give an OSM file, a place name or a polygon")

    G = finish_graph(G, clip, speeds=speeds, fallback_speed_kph=fallback_speed_kph)
    G.graph["siting_key"] = key  # downstream caches (demand, travel) key on it
    if cache:
        _cache.save(cache_root, "graph", key, G)
    return G


def graph_from_file(
    path: Path, *, bbox: tuple[float, float, float, float] | None = None
) -> nx.MultiDiGraph:
    """Build an OSMnx drive graph from a local OSM file.

    The file is filtered to drivable ways with pyosmium and written as OSM XML,
    which :func:`osmnx.graph_from_xml` turns into a simplified graph. With
    ``bbox`` (lon_min, lat_min, lon_max, lat_max) only ways touching it are
    read; the graph is not clipped exactly (see :func:`finish_graph`).
    """
    import osmnx as ox  # here, not at the top: a warm run never needs it (1.2 s)

    check_osm_file(path, field="network.osm_file")
    with tempfile.TemporaryDirectory(prefix="siting-osm-") as tmp:
        xml = Path(tmp) / "drive.osm"
        write_drive_xml(path, xml, field="network.osm_file", bbox=bbox)
        try:
            G = ox.graph_from_xml(xml, simplify=True, retain_all=True)
        except Exception as exc:
            raise DataFileError(f"network.osm_file: OSMnx could not build a graph: {exc}") from exc
    log.info("network: %d nodes, %d edges from %s", len(G), G.size(), path.name)
    return G


def finish_graph(
    G: nx.MultiDiGraph,
    clip: BaseGeometry | None,
    *,
    speeds: dict[str, float],
    fallback_speed_kph: float,
) -> nx.MultiDiGraph:
    """Clip, keep the largest strongly connected component, add travel times."""
    import osmnx as ox  # here, not at the top: a warm run never needs it (1.2 s)

    if clip is not None:
        try:
            G = ox.truncate.truncate_graph_polygon(
                G, as_polygon(clip, "network.boundary"), truncate_by_edge=True
            )
        except ValueError:
            raise InputError(
                "network.boundary: the city boundary contains no roads of the graph"
            ) from None
    G = ox.truncate.largest_component(G, strongly=True)
    if len(G) < 2:
        raise InputError("network: the road graph has fewer than 2 connected nodes")
    G = add_travel_times(G, speeds=speeds, fallback_speed_kph=fallback_speed_kph)
    log.info(
        "network: %d nodes, %d edges in the largest strongly connected component", len(G), G.size()
    )
    return G


def add_travel_times(
    G: nx.MultiDiGraph, *, speeds: dict[str, float], fallback_speed_kph: float
) -> nx.MultiDiGraph:
    """Add ``speed_kph`` and ``travel_time`` (s) to every edge.

    ``maxspeed`` is used where tagged; otherwise the class speed from ``speeds``
    (for an edge merged from several classes, the slowest); otherwise
    ``fallback_speed_kph``.
    """
    import osmnx as ox  # here, not at the top: a warm run never needs it (1.2 s)

    def class_speed(c: str) -> tuple[float, str]:
        return (speeds.get(c, fallback_speed_kph), c)

    # Simplification merges ways of different classes into a list whose order follows
    # Python's string hashing; OSMnx uses the first item. Put the slowest class first so
    # the speed is the same in every process (and errs on the slow side).
    for _, _, d in G.edges(data=True):
        hw = d.get("highway")
        if isinstance(hw, list):
            d["highway"] = sorted(set(hw), key=class_speed)
    classes = {_first(d.get("highway")) for _, _, d in G.edges(data=True)}
    table = {c: speeds.get(c, fallback_speed_kph) for c in classes if c is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # mean of empty maxspeed
        G = ox.add_edge_speeds(G, hwy_speeds=table, fallback=fallback_speed_kph)
    G = ox.add_edge_travel_times(G)
    return G


def buffered(geom: BaseGeometry, buffer_m: float) -> BaseGeometry:
    """``geom`` (WGS84) grown by ``buffer_m`` metres, back in WGS84."""
    gs = gpd.GeoSeries([geom], crs=WGS84)
    if buffer_m <= 0:
        return gs.iloc[0]
    metric = utm_crs(gpd.GeoDataFrame(geometry=gs))
    return gs.to_crs(metric).buffer(buffer_m).to_crs(WGS84).iloc[0]


def graph_stats(G: nx.MultiDiGraph) -> dict[str, Any]:
    """Size of the graph for the run's KPIs."""
    length = sum(d.get("length", 0.0) for _, _, d in G.edges(data=True))
    return {"nodes": len(G), "edges": G.size(), "length_km": round(length / 1000.0, 1)}


# ----------------------------------------------------------------- internals
def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def _cache_key(
    source: NetworkSource,
    clip: BaseGeometry | None,
    speeds: dict[str, float],
    fallback: float,
) -> str:
    if source.osm_file is not None:
        ident: Any = ("file", sha256_file(source.osm_file))
    elif source.place is not None:
        ident = ("place", source.place)
    else:
        ident = ("polygon", source.polygon.wkb_hex if source.polygon is not None else None)
    return hash_key(
        _CACHE_FORMAT,
        ident,
        clip.wkb_hex if clip is not None else None,
        sorted(speeds.items()),
        fallback,
        version("osmnx"),
    )
