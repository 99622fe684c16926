"""Private helpers that read local OSM files with pyosmium.

Two readers: :func:`write_drive_xml` keeps the drivable highways of an extract
and writes them as OSM XML that OSMnx's own ``graph_from_xml`` turns into a
normal OSMnx graph; :func:`read_features` collects the points and areas that
can host a charging station, and :func:`read_named_places` the named places and
addresses that describe where a site is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
import osmium.osm.mutable as mutable

from siting import settings
from siting.errors import DataFileError, InputError, MissingFileError

log = logging.getLogger(__name__)

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".xml")

#: Way tags carried into the XML (OSMnx keeps those in its useful_tags_way).
_WAY_TAGS = (
    "highway",
    "name",
    "oneway",
    "maxspeed",
    "lanes",
    "ref",
    "junction",
    "access",
    "service",
    "bridge",
    "tunnel",
    "width",
)


@dataclass(frozen=True)
class DriveExtract:
    """What :func:`write_drive_xml` kept and repaired."""

    ways: int
    nodes: int
    pieces_added: int
    missing_refs: int
    ways_dropped: int


def check_osm_file(path: Path, *, field: str) -> None:
    """Raise a clear error for a missing file or an unsupported suffix."""
    if not path.exists():
        raise MissingFileError(f"{field}: OSM file not found: {path}")
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise DataFileError(
            f"{field}: {path.name} is not an OSM file; expected one of {', '.join(OSM_SUFFIXES)}"
        )


def is_drivable(tags: osmium.osm.TagList) -> bool:
    """The OSMnx ``drive`` filter, applied to one way's tags."""
    if tags.get("highway") not in settings.DRIVE_HIGHWAYS:
        return False
    return all(tags.get(key) not in values for key, values in settings.DRIVE_EXCLUDE.items())


def write_drive_xml(
    src: Path, dst: Path, *, field: str, bbox: tuple[float, float, float, float] | None = None
) -> DriveExtract:
    """Write the drivable ways of ``src`` and their nodes to OSM XML ``dst``.

    With ``bbox`` (lon_min, lat_min, lon_max, lat_max) only ways with at least
    one node inside it are kept; exact clipping is left to the caller.

    Extracts cut at a bounding box leave ways that reference nodes the file does
    not contain. Such a way is split at the missing references: each run of at
    least two present nodes becomes a way of its own (the first keeps the OSM id,
    further pieces get fresh negative ids), so OSMnx never meets a node without
    coordinates.
    """
    check_osm_file(src, field=field)
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    coords: dict[int, tuple[float, float]] = {}
    missing = pieces_added = dropped = outside = 0
    next_id = -1
    try:
        processor = osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY)
        for way in processor.with_locations():
            if not isinstance(way, osmium.osm.Way) or not is_drivable(way.tags):
                continue
            runs: list[list[int]] = [[]]
            for ref in way.nodes:
                if ref.location.valid():
                    coords[ref.ref] = (ref.location.lon, ref.location.lat)
                    runs[-1].append(ref.ref)
                else:
                    missing += 1
                    if runs[-1]:
                        runs.append([])
            runs = [r for r in runs if len(r) >= 2]
            if not runs:
                dropped += 1
                continue
            if bbox is not None and not any(
                bbox[0] <= coords[r][0] <= bbox[2] and bbox[1] <= coords[r][1] <= bbox[3]
                for run in runs
                for r in run
            ):
                outside += 1
                continue
            tags = {k: way.tags[k] for k in _WAY_TAGS if k in way.tags}
            for i, run in enumerate(runs):
                if i == 0:
                    way_id = way.id
                else:
                    way_id, next_id = next_id, next_id - 1
                    pieces_added += 1
                ways.append((way_id, run, tags))
    except RuntimeError as exc:
        raise DataFileError(f"{field}: cannot read OSM file {src}: {exc}") from None
    if not ways and outside:
        raise InputError(
            f"network.boundary: the city boundary contains no roads of {src.name} "
            "(do the boundary and the OSM extract cover the same place?)"
        )
    if not ways:
        raise DataFileError(f"{field}: {src} contains no drivable highways")

    nodes = _write_ways(dst, ways, coords)
    result = DriveExtract(len(ways), nodes, pieces_added, missing, dropped)
    log.info(
        "OSM extract: %d drivable ways, %d nodes; %d missing node refs repaired "
        "(%d extra pieces, %d ways dropped)",
        result.ways,
        result.nodes,
        missing,
        pieces_added,
        dropped,
    )
    return result


def _write_ways(
    dst: Path,
    ways: list[tuple[int, list[int], dict[str, str]]],
    coords: dict[int, tuple[float, float]],
) -> int:
    """Write ``ways`` and the nodes they use (from ``coords``) to OSM XML ``dst``,
    replacing it; the number of nodes written."""
    used = sorted({ref for _, refs, _ in ways for ref in refs})
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    writer = osmium.SimpleWriter(str(dst))
    try:
        for node_id in used:
            lon, lat = coords[node_id]
            writer.add_node(mutable.Node(id=node_id, location=(lon, lat), version=1))
        for way_id, refs, tags in ways:
            writer.add_way(mutable.Way(id=way_id, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()
    return len(used)


@dataclass(frozen=True)
class Features:
    """Candidate-site features read from an OSM file (arrays of equal length).

    ``element`` is ``"node"`` or ``"way"`` (with ``osmid``, the feature's OSM
    reference); ``address`` its ``addr:*`` tags in words (:func:`address_of`), ``""``
    when it has none. Made without them (older callers), both are empty.
    """

    osmid: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    element: np.ndarray | None = None
    address: np.ndarray | None = None


def address_of(tags: osmium.osm.TagList | Mapping[str, str]) -> str:
    """A feature's address from its ``addr:*`` tags: street (or place) and house
    number (``"ул. Абая 52"``); ``""`` without a street or place."""
    street = tags.get("addr:street") or tags.get("addr:place") or ""
    number = tags.get("addr:housenumber") or ""
    return f"{street} {number}".strip() if street else ""


def read_features(src: Path, *, field: str) -> Features:
    """Points and areas tagged as places a station can stand (see settings).

    Areas (closed ways) are reduced to the mean of their nodes; each feature's
    kind is the first match in :data:`settings.CANDIDATE_TAGS`.
    """
    check_osm_file(src, field=field)
    keys = {key for key, _, _ in settings.CANDIDATE_TAGS}
    rows: list[tuple[int, str, str, float, float, str, str]] = []

    def match(tags: osmium.osm.TagList) -> str | None:
        for key, value, kind in settings.CANDIDATE_TAGS:
            if tags.get(key) == value:
                return kind
        return None

    try:
        processor = osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY)
        processor = processor.with_locations().with_filter(osmium.filter.KeyFilter(*keys))
        for obj in processor:
            if not isinstance(obj, osmium.osm.Node | osmium.osm.Way):
                continue
            kind = match(obj.tags)
            if kind is None:
                continue
            name = obj.tags.get("name", "") or ""
            address = address_of(obj.tags)
            if isinstance(obj, osmium.osm.Node):
                if obj.location.valid():
                    lon, lat = obj.location.lon, obj.location.lat
                    rows.append((obj.id, kind, name, lon, lat, "node", address))
                continue
            pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
            if pts:
                lon, lat = np.asarray(pts).mean(axis=0).tolist()
                rows.append((obj.id, kind, name, lon, lat, "way", address))
    except RuntimeError as exc:
        raise DataFileError(f"{field}: cannot read OSM file {src}: {exc}") from None
    rows.sort(key=lambda r: (r[1], r[0], r[5]))
    types = (np.int64, object, object, float, float, object, object)
    if not rows:
        return Features(*(np.array([], dtype=t) for t in types))
    return Features(
        *(np.asarray(col, dtype=t) for col, t in zip(zip(*rows, strict=True), types, strict=True))
    )


#: ``place=*`` values too large to describe a site by (``near Almaty``).
_LARGE_PLACES = frozenset(
    {"country", "state", "region", "province", "district", "county", "municipality", "city",
     "town", "borough"}
)  # fmt: skip


@dataclass(frozen=True)
class NamedPlaces:
    """Named places and addresses of an OSM file, to describe sites by (arrays of equal
    length; ``name`` or ``address`` ``""`` where the feature has none)."""

    lon: np.ndarray
    lat: np.ndarray
    name: np.ndarray
    address: np.ndarray


def read_named_places(src: Path, *, field: str) -> NamedPlaces:
    """Every node and area (closed way) of ``src`` with a name or an address.

    Streets are left out (a site is described by a street through the road graph's own
    names); so are lines (rivers, railways: their centre says nothing) and places as
    large as a city district. Areas stand at the mean of their nodes.
    """
    check_osm_file(src, field=field)
    rows: list[tuple[float, float, str, str]] = []
    try:
        processor = osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY)
        processor = processor.with_locations().with_filter(
            osmium.filter.KeyFilter("name", "addr:street", "addr:place")
        )
        for obj in processor:
            tags = obj.tags
            if tags.get("place") in _LARGE_PLACES:
                continue
            name, address = tags.get("name", "") or "", address_of(tags)
            if not (name or address):
                continue
            if isinstance(obj, osmium.osm.Node):
                if obj.location.valid():
                    rows.append((obj.location.lon, obj.location.lat, name, address))
                continue
            if not isinstance(obj, osmium.osm.Way) or "highway" in tags or not obj.is_closed():
                continue
            pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
            if pts:
                lon, lat = np.asarray(pts).mean(axis=0).tolist()
                rows.append((lon, lat, name, address))
    except RuntimeError as exc:
        raise DataFileError(f"{field}: cannot read OSM file {src}: {exc}") from None
    types = (float, float, object, object)
    if not rows:
        return NamedPlaces(*(np.array([], dtype=t) for t in types))
    return NamedPlaces(
        *(np.asarray(col, dtype=t) for col, t in zip(zip(*rows, strict=True), types, strict=True))
    )


#: Taxi activity hubs and their relative weights (an airport draws more taxis than a mall).
TAXI_HUBS: tuple[tuple[str, str, str, float], ...] = (
    ("aeroway", "aerodrome", "airport", 10.0),
    ("aeroway", "terminal", "airport", 10.0),
    ("railway", "station", "rail_station", 5.0),
    ("amenity", "bus_station", "bus_station", 3.0),
    ("amenity", "taxi", "taxi_stand", 2.0),
    ("amenity", "marketplace", "marketplace", 2.0),
    ("shop", "mall", "mall", 2.0),
)

_RESIDENTIAL_BUILDINGS = {"apartments": 4.0, "residential": 2.0, "house": 1.0, "detached": 1.0,
                          "terrace": 1.5, "dormitory": 3.0, "yes": 1.0}  # fmt: skip
_WORK_LANDUSE = {"commercial", "industrial", "retail"}


def _centroid_area(obj: osmium.osm.Way) -> tuple[float, float, float] | None:
    """Centroid lon/lat and planar area (m², local equirectangular) of a closed way."""
    pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
    if len(pts) < 3:
        return None
    arr = np.asarray(pts)
    lat0 = np.radians(arr[:, 1].mean())
    x = np.radians(arr[:, 0]) * 6_371_000 * np.cos(lat0)
    y = np.radians(arr[:, 1]) * 6_371_000
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return float(arr[:, 0].mean()), float(arr[:, 1].mean()), float(area)


@dataclass(frozen=True)
class Proxies:
    """Weighted points (lon, lat, weight) derived from OSM; see :func:`read_proxies`."""

    population: list[tuple[float, float, float]]
    jobs: list[tuple[float, float, float]]
    hubs: list[tuple[float, float, float]]
    hub_kinds: list[str]


def read_proxies(src: Path, *, field: str) -> Proxies:
    """Points (lon, lat, weight) standing in for population, jobs and taxi hubs.

    For a city without population or jobs layers:

    * ``population``: building footprints (m², weighted up for apartment blocks) and a
      fifth of the area of residential land use;
    * ``jobs``: one per shop, office, amenity or craft, plus commercial, industrial
      and retail land use (one per 1,000 m²);
    * ``hubs``: taxi hubs of :data:`TAXI_HUBS` with their weights and kinds.
    """
    check_osm_file(src, field=field)
    out: dict[str, list[tuple[float, float, float]]] = {"population": [], "jobs": [], "hubs": []}
    hub_kinds: list[str] = []
    keys = ("building", "landuse", "shop", "office", "amenity", "craft", "aeroway", "railway")
    try:
        proc = osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY)
        proc = proc.with_locations().with_filter(osmium.filter.KeyFilter(*keys))
        for obj in proc:
            if not isinstance(obj, osmium.osm.Node | osmium.osm.Way):
                continue
            tags = obj.tags
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                lon, lat, area = obj.location.lon, obj.location.lat, 0.0
            else:
                geo = _centroid_area(obj)
                if geo is None:
                    continue
                lon, lat, area = geo
            for key, value, kind, weight in TAXI_HUBS:
                if tags.get(key) == value:
                    out["hubs"].append((lon, lat, weight))
                    hub_kinds.append(kind)
                    break
            building = tags.get("building")
            if building in _RESIDENTIAL_BUILDINGS and area > 0:
                out["population"].append((lon, lat, area * _RESIDENTIAL_BUILDINGS[building]))
            landuse = tags.get("landuse")
            if landuse == "residential" and area > 0:
                out["population"].append((lon, lat, 0.2 * area))
            elif landuse in _WORK_LANDUSE and area > 0:
                out["jobs"].append((lon, lat, area / 1000.0))
            if any(k in tags for k in ("shop", "office", "craft")) or (
                "amenity" in tags
                and tags.get("amenity") not in ("parking", "bench", "waste_basket")
            ):
                out["jobs"].append((lon, lat, 1.0))
    except RuntimeError as exc:
        raise DataFileError(f"{field}: cannot read OSM file {src}: {exc}") from None
    return Proxies(out["population"], out["jobs"], out["hubs"], hub_kinds)
