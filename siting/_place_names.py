"""Private helpers of :mod:`siting.candidates`: what a candidate site is called.

What a planner reads about a site:

- its **site id**, stable between runs: made from what the site is, not from its row
  (:func:`stable_ids`): ``osm-node-123`` / ``osm-way-456`` for an OSM feature, the
  record's id for an existing station (``ocm-146017``, ``osm-node-9``, a station file's
  ``id``; else ``station-<lat>-<lon>``), ``grid-<lat>-<lon>`` (4 decimals, about 10 m)
  for a road-grid node. Adding or removing other candidates leaves it unchanged;
- its **kind in words** (:data:`KIND_LABELS`; a road-grid node is a ``road junction``,
  ``dead end`` or ``road point near <street>``);
- its **name and address** (:func:`describe`): its own (the OSM ``name`` and ``addr:*``
  tags, the station's record) first, else the nearest named place and address within
  :data:`NEAR_M` (``near …``), else the street it stands on or the nearest named street;
- its **district** (:func:`districts_of`), the scenario's district it lies in.

The nearest-neighbour searches are KD-tree queries on metric coordinates, all sites at
once: about 0.15 s for Almaty's 974 candidates, most of it reading the named places
and sampling the named streets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from siting import settings
from siting._geo import NodeIndex
from siting._io import WGS84
from siting._osm import NamedPlaces, read_named_places

log = logging.getLogger(__name__)

#: How far (m) a named place, address or street may be to describe a site by it.
NEAR_M = 150.0

#: Spacing (m) of the points sampled along named streets for the nearest-street search
#: (a point of a street is then found within half of it).
STREET_STEP_M = 20.0

#: Decimals of the coordinates in a coordinate id (4: about 11 m north-south).
ID_DECIMALS = 4

#: Each candidate kind in words.
KIND_LABELS: dict[str, str] = {
    "existing_station": "existing charging station",
    "charging_station": "charging station",
    "parking": "parking",
    "fuel": "fuel station",
    "marketplace": "market",
    "mall": "shopping mall",
    "supermarket": "supermarket",
    "transport_hub": "transport hub",
    "park": "park",
    "cafe": "cafe or restaurant",
    settings.GRID_KIND: "road junction",
}

#: Highway classes in order of importance: a junction is named after its main road.
_ROAD_RANK = ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
              "residential", "living_street", "service")  # fmt: skip


@dataclass(frozen=True)
class Places:
    """What sites are described by: named places and addresses (from the OSM file, if
    any) and the named streets of the road graph.

    ``street_xy``/``street_name``: points every :data:`STREET_STEP_M` along each named
    street (metric, in the node index's CRS); ``node_streets``: per graph node, the
    names of the named streets that meet there, main road first; ``node_degree``: per
    graph node, how many other nodes it joins (3 or more: a junction; 1: a dead end).
    """

    named: NamedPlaces | None
    street_xy: np.ndarray
    street_name: np.ndarray
    node_streets: dict[int, tuple[str, ...]]
    node_degree: dict[int, int]


def gather_places(
    graph: nx.MultiDiGraph, index: NodeIndex, osm_path: Path | None, *, field: str
) -> Places:
    """The places of :class:`Places`: ``osm_path``'s named places (none without a file)
    and ``graph``'s named streets."""
    named = read_named_places(osm_path, field=field) if osm_path is not None else None
    xy, names, node_streets = _streets(graph, index)
    degree = {int(n): len((set(graph.successors(n)) | set(graph.predecessors(n))) - {n})
              for n in graph.nodes}  # fmt: skip
    return Places(named, xy, names, node_streets, degree)


def _names(value: Any) -> list[str]:
    """An edge's ``name`` (OSMnx keeps a list where merged ways had several)."""
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if isinstance(v, str) and v.strip()]


def _rank(highway: Any) -> int:
    kinds = highway if isinstance(highway, list) else [highway]
    ranks = [_ROAD_RANK.index(str(k)) for k in kinds if str(k) in _ROAD_RANK]
    return min(ranks) if ranks else len(_ROAD_RANK)


def _streets(
    graph: nx.MultiDiGraph, index: NodeIndex
) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[str, ...]]]:
    """Points along the named streets of ``graph`` (metric) with their names, and the
    named streets meeting at each node (main road first)."""
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    labels: list[str] = []
    at_node: dict[int, dict[str, int]] = {}
    seen: set[tuple[int, int, int]] = set()
    for u, v, key, data in graph.edges(keys=True, data=True):
        names = _names(data.get("name"))
        if not names:
            continue
        rank = _rank(data.get("highway"))
        for node in (u, v):
            ranks = at_node.setdefault(int(node), {})
            for name in names:
                ranks[name] = min(ranks.get(name, rank), rank)
        if (v, u, key) in seen:  # the other direction of a two-way street
            continue
        seen.add((u, v, key))
        geom = data.get("geometry")
        if geom is not None:
            lon, lat = np.asarray(geom.coords, dtype=float).T
        else:
            lon = np.array([graph.nodes[u]["x"], graph.nodes[v]["x"]], dtype=float)
            lat = np.array([graph.nodes[u]["y"], graph.nodes[v]["y"]], dtype=float)
        lons.append(lon)
        lats.append(lat)
        labels.append(names[0])  # a way merged from differently named ones: its first
    node_streets = {
        node: tuple(sorted(ranks, key=lambda n, r=ranks: (r[n], n)))  # type: ignore[misc]
        for node, ranks in at_node.items()
    }
    if not labels:
        return np.empty((0, 2)), np.array([], dtype=object), node_streets
    # every street's points projected at once; a segment joins two points of one street
    sizes = np.array([len(x) for x in lons])
    xy = index.to_metric(np.concatenate(lons), np.concatenate(lats))
    street = np.repeat(np.arange(len(labels)), sizes)
    joined = street[:-1] == street[1:]
    a, b, who = xy[:-1][joined], xy[1:][joined], street[:-1][joined]
    steps = np.maximum(np.ceil(np.hypot(*(b - a).T) / STREET_STEP_M).astype(int), 1)
    seg = np.repeat(np.arange(len(a)), steps + 1)
    first = np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
    frac = (np.arange(len(seg)) - first) / np.repeat(steps, steps + 1)
    pts = a[seg] + frac[:, None] * (b[seg] - a[seg])
    return pts, np.asarray(labels, dtype=object)[who[seg]], node_streets


def _nearest(tree_xy: np.ndarray, values: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Per point of ``xy``, the value of its nearest point of ``tree_xy`` within
    :data:`NEAR_M`, else ``""``."""
    out = np.full(len(xy), "", dtype=object)
    if not len(tree_xy) or not len(xy):
        return out
    dist, pos = cKDTree(tree_xy).query(xy, distance_upper_bound=NEAR_M)
    hit = np.isfinite(dist)
    out[hit] = values[pos[hit]]
    return out


def describe(cand: pd.DataFrame, index: NodeIndex, places: Places | None) -> pd.DataFrame:
    """``name``, ``address`` and ``kind_label`` of every candidate.

    ``cand`` has ``kind``, ``name``, ``lon``, ``lat``, ``node`` and (optional)
    ``address`` (the candidate's own, ``""`` when none). Without ``places`` only the
    candidates' own names and addresses and their kinds in words are given.
    """
    kind = cand["kind"].astype(str).to_numpy()
    own_name = cand["name"].fillna("").astype(str).to_numpy(object)
    own_address = (
        cand["address"].fillna("").astype(str).to_numpy(object)
        if "address" in cand
        else np.full(len(cand), "", dtype=object)
    )
    label = np.array([KIND_LABELS.get(k, k.replace("_", " ")) for k in kind], dtype=object)
    if places is None:
        return pd.DataFrame(
            {"kind_label": label, "name": own_name, "address": own_address}, index=cand.index
        )
    xy = index.to_metric(cand["lon"].to_numpy(float), cand["lat"].to_numpy(float))
    near_name = near_address = np.full(len(cand), "", dtype=object)
    if places.named is not None and len(places.named.name):
        named = places.named
        pxy = index.to_metric(named.lon, named.lat)
        has_name, has_address = named.name != "", named.address != ""
        near_name = _nearest(pxy[has_name], named.name[has_name], xy)
        near_address = _nearest(pxy[has_address], named.address[has_address], xy)
    street = _nearest(places.street_xy, places.street_name, xy)
    nodes = cand["node"].to_numpy(np.int64)
    grid = kind == settings.GRID_KIND
    corner = np.full(len(cand), "", dtype=object)
    for i in np.flatnonzero(grid):
        meeting = places.node_streets.get(int(nodes[i]), ())
        if meeting:
            corner[i] = " / ".join(meeting[:2])
            street[i] = meeting[0]
        degree = places.node_degree.get(int(nodes[i]), 0)
        what = "road junction" if degree >= 3 else ("dead end" if degree == 1 else "road point")
        label[i] = f"{what} near {street[i]}" if street[i] else what
    name = np.where(own_name != "", own_name, np.where(near_name != "", "near " + near_name, ""))
    address = np.where(
        own_address != "",
        own_address,
        np.where(
            corner != "",
            corner,
            np.where(near_address != "", "near " + near_address, street),
        ),
    )
    return pd.DataFrame(
        {"kind_label": label, "name": name.astype(object), "address": address.astype(object)},
        index=cand.index,
    )


def districts_of(cand: pd.DataFrame, districts: gpd.GeoDataFrame | None) -> np.ndarray:
    """The district each site lies in (the first where polygons overlap), ``""`` where
    none does."""
    out = np.full(len(cand), "", dtype=object)
    if districts is None or not len(districts) or not len(cand):
        return out
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(cand["lon"], cand["lat"]), crs=WGS84
    ).reset_index(drop=True)
    hits = gpd.sjoin(points, districts[["district", "geometry"]], how="inner", predicate="within")
    first = hits[~hits.index.duplicated(keep="first")]
    out[first.index.to_numpy()] = first["district"].astype(str).to_numpy()
    return out


def _coordinate_id(prefix: str, lat: float, lon: float, decimals: int) -> str:
    return f"{prefix}-{lat:.{decimals}f}-{lon:.{decimals}f}"


def stable_ids(cand: pd.DataFrame) -> list[str]:
    """The site id of every candidate (see the module's docstring), unique.

    ``cand`` has ``existing``, ``kind``, ``osmid``, ``element`` (``node``/``way`` of an
    OSM feature), ``ref`` (an existing station's record id), ``lat`` and ``lon``.

    Two sites whose coordinate ids meet (road nodes closer than the 4th decimal) get
    6 decimals; any id still met twice gets ``-2``, ``-3``, … in row order.
    """
    ids: list[str] = []
    coordinate: list[str | None] = []
    for ex, kind, osmid, element, ref, lat, lon in zip(
        cand["existing"].to_numpy(bool),
        cand["kind"].astype(str),
        cand["osmid"].to_numpy(np.int64),
        cand["element"].fillna("").astype(str),
        cand["ref"].fillna("").astype(str),
        cand["lat"].to_numpy(float),
        cand["lon"].to_numpy(float),
        strict=True,
    ):
        if ex and ref:
            ids.append(ref)
            coordinate.append(None)
        elif not ex and kind != settings.GRID_KIND and element and osmid >= 0:
            ids.append(f"osm-{element}-{osmid}")
            coordinate.append(None)
        else:
            prefix = "station" if ex else "grid"
            ids.append(_coordinate_id(prefix, lat, lon, ID_DECIMALS))
            coordinate.append(prefix)
    counts = pd.Series(ids).value_counts()
    lats, lons = cand["lat"].to_numpy(float), cand["lon"].to_numpy(float)
    for i, made_from in enumerate(coordinate):
        if made_from is not None and counts[ids[i]] > 1:
            ids[i] = _coordinate_id(made_from, lats[i], lons[i], 6)
    seen: dict[str, int] = {}
    for i, sid in enumerate(ids):
        seen[sid] = seen.get(sid, 0) + 1
        if seen[sid] > 1:
            ids[i] = f"{sid}-{seen[sid]}"
    twice = [sid for sid, n in seen.items() if n > 1]
    if twice:
        log.warning(
            "candidates: %d site id(s) met more than once (%s), numbered -2, -3, ... in order",
            len(twice),
            ", ".join(twice[:5]),
        )
    return ids
