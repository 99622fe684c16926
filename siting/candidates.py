"""Stage 3 — candidate sites: where a station can stand.

Three sources, in order of priority when they meet at one road node:

1. existing stations from a user file (CSV with lat/lon, GeoJSON points, or
   Open Charge Map JSON), OSM and the Open Charge Map API (see
   :func:`gather_existing`): always candidates, fixed in every plan;
2. OSM features where a charging plot fits (parking, fuel, markets, malls,
   supermarkets, transport hubs, parks, cafes; see
   :data:`siting.settings.CANDIDATE_TAGS`), snapped to the road graph;
3. road nodes on a square spacing grid, so that no part of the city lacks a
   candidate even where OSM has no mapped features.

Each candidate is attached to its nearest node of the (strongly connected)
graph; features farther than ``snap_max_m`` from any road are dropped, and only
one non-existing candidate is kept per node.

Every candidate has a stable ``site_id`` (from its OSM id, its station record or its
rounded coordinates, never its row: the optimiser's row positions are internal), its
kind in words (``kind_label``) and, where the OSM data has them, a name and an address
(its own, else the nearest named place, address or street); see
:mod:`siting._place_names`. :func:`candidates_layer` is what a run writes to
``candidates.geojson``.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from siting import settings
from siting._geo import NodeIndex
from siting._invariants import present
from siting._io import WGS84, file_stamp, read_vector
from siting._osm import Features, read_features
from siting._place_names import Places, describe, districts_of, gather_places, stable_ids
from siting.errors import DataFileError, InputError, MissingFileError
from siting.existing import (
    STATION_COLUMNS,
    check_table,
    fetch_ocm,
    merge_stations,
    read_ocm_file,
    read_osm_stations,
    stations_from_features,
)
from siting.network import OnlineOptions, RoadNetwork, download_features

if TYPE_CHECKING:
    from siting.scenario import Scenario

log = logging.getLogger(__name__)

COLUMNS = ["site_id", "kind", "kind_label", "name", "address", "district", "osmid", "existing",
           "node", "lon", "lat", "snap_m", "ports_known", "type_known", "kw_known",
           "source"]  # fmt: skip

#: Columns of ``candidates.geojson`` (:func:`candidates_layer`), besides the geometry.
LAYER_COLUMNS = ["site_id", "kind", "kind_label", "name", "address", "district", "existing",
                 "source", "osmid", "node", "lon", "lat", "snap_m"]  # fmt: skip


def candidate_stage(
    sc: Scenario, net: RoadNetwork, stamps: dict[str, Any], *, cache_root: Path
) -> gpd.GeoDataFrame:
    """Stage 3 of ``sc``: candidate sites (OSM features, the road grid) and the
    existing stations, snapped to the road graph of ``net``."""
    cc = sc.candidates
    features = None
    if cc.osm_features:
        if net.osm_file is None:
            log.warning("candidates.osm_features needs an OSM file; using the road grid only")
        else:
            features = read_features(net.osm_file, field="network.osm_file")
    existing = gather_existing(
        sc, net.osm_file, net.area, stamps, online=net.online, cache_root=cache_root
    )
    started = time.perf_counter()
    places = gather_places(net.graph, net.index, net.osm_file, field="network.osm_file")
    log.info("candidates: named places and streets read in %.2f s", time.perf_counter() - started)
    districts = None
    d_path = sc.resolve(sc.demand.districts, field="demand.districts")
    if d_path is not None:
        column = sc.demand.district_column
        layer = read_vector(d_path, field="demand.districts", column=column)
        districts = gpd.GeoDataFrame(
            {"district": layer[column].astype(str)}, geometry=layer.geometry, crs=layer.crs
        )
    return build_candidates(
        net.index,
        features=features,
        area=net.area,
        grid_spacing_m=cc.grid_spacing_m,
        snap_max_m=cc.snap_max_m,
        existing=existing,
        places=places,
        districts=districts,
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
        e_path = present(
            sc.resolve(cc.existing, field="candidates.existing"), "candidates.existing"
        )
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
            fetch_ocm(
                cc.existing_ocm_url,
                area.bounds,
                key=key,
                timeout_s=sc.network.timeout_s,
                field="candidates.existing_ocm_url",
            )
        )
    merged = merge_stations(frames)
    return merged if len(merged) else None


def load_existing(path: Path, *, field: str = "candidates.existing") -> pd.DataFrame:
    """Read existing stations (columns :data:`siting.existing.STATION_COLUMNS`).

    Accepts a CSV with ``lat``/``lon`` (or ``latitude``/``longitude``) and
    ``station_type`` (or ``type``: AC/DC) columns and optional ``name``, ``ports``,
    ``kw``, ``address`` and ``id`` (or ``site_id``, ``ref``: the station's site id, one
    station per id), a GeoJSON of points with the same properties, or Open Charge Map
    JSON (one record or a list).

    Every row is checked as it is read (:func:`siting.existing.check_table`): an
    empty ports or kW is unknown (the scenario's is assumed later, with a warning); a
    wrong figure (ports -4 or 0, kW -50 or ``"fast"``, type ``"XL"``, coordinates out
    of range) or an empty type is a :class:`~siting.errors.DataFileError` naming the
    file, the row, the field, what was expected and what arrived.
    """
    if not path.exists():
        raise MissingFileError(f"{field}: file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, comment="#")
            df = check_table(_normalise_columns(df, path, field), origin=str(path), unit="row")
        elif suffix in (".geojson", ".gpkg", ".shp") or _is_geojson(path):
            gdf = gpd.read_file(path)
            if gdf.crs is None:
                raise DataFileError(f"{field}: {path} has no CRS")
            gdf = gdf.to_crs(WGS84)
            if not gdf.geom_type.eq("Point").all():
                raise DataFileError(f"{field}: {path} must contain points only")
            props = pd.DataFrame(gdf.drop(columns="geometry"))
            props["lon"], props["lat"] = gdf.geometry.x, gdf.geometry.y
            df = check_table(
                _normalise_columns(props, path, field), origin=str(path), unit="feature"
            )
        elif suffix == ".json":
            df = read_ocm_file(path, field=field)
        else:
            raise DataFileError(f"{field}: {path.name}: expected .csv, .geojson or .json")
    except (DataFileError, MissingFileError):
        raise
    except Exception as exc:
        raise DataFileError(f"{field}: cannot read {path}: {exc}") from None
    if df.empty:
        raise DataFileError(f"{field}: {path} lists no stations")
    given = df["ref"][df["ref"] != ""]
    twice = given[given.duplicated(keep=False)]
    if len(twice):
        rows = ", ".join(str(i + 1) for i in twice.index[:5])
        raise DataFileError(
            f"{field}: {path}: id: expected one station per id, got {twice.iloc[0]!r} "
            f"in rows {rows}"
        )
    df["name"] = df["name"].fillna("").astype(str)
    if "source" not in df or (df["source"] == "").all():
        df["source"] = path.name
    return df[STATION_COLUMNS].reset_index(drop=True)


def build_candidates(
    index: NodeIndex,
    *,
    features: Features | None,
    area: BaseGeometry,
    grid_spacing_m: float,
    snap_max_m: float,
    existing: pd.DataFrame | None = None,
    places: Places | None = None,
    districts: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites snapped to the graph; existing stations first.

    Parameters
    ----------
    index
        Nodes of the finished (strongly connected) graph.
    features
        OSM features from :func:`siting._osm.read_features`, or ``None``.
    area
        City boundary (WGS84): features and grid points outside it are ignored,
        existing stations outside it are an error.
    grid_spacing_m
        Spacing of the road-node grid; 0 for none.
    snap_max_m
        Largest distance from a feature to its road node.
    existing
        Output of :func:`load_existing`, or ``None``.
    places
        Named places and streets to describe the sites by
        (:func:`siting._place_names.gather_places`); ``None``: only the sites' own
        names and addresses.
    districts
        District polygons (WGS84) with a ``district`` name column: each site's
        ``district`` is the one it lies in (``""`` outside them all, or without).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per candidate (see :data:`COLUMNS`), existing stations first; its row
        positions are the optimiser's, its ``site_id`` stable between runs.
    """
    inside = prep(area)
    frames: list[pd.DataFrame] = []
    if existing is not None and len(existing):
        frames.append(_existing_sites(existing, index, inside, snap_max_m))
    if features is not None and len(features.kind):
        frames.append(_feature_sites(features, index, inside))
    if grid_spacing_m > 0:
        frames.append(_grid(index, area, grid_spacing_m))
    if not frames:
        raise InputError("candidates: no source of candidate sites (no features, grid or stations)")
    cand = _one_per_node(pd.concat(frames, ignore_index=True), snap_max_m)
    n_ex = int(cand["existing"].sum())
    cand["osmid"] = cand["osmid"].astype(np.int64)
    cand.insert(0, "site_id", stable_ids(cand))
    cand["node"] = index.ids[cand["pos"].to_numpy()]
    cand = cand.drop(columns="pos")
    words = describe(cand, index, places)
    cand["kind_label"], cand["name"], cand["address"] = (
        words["kind_label"], words["name"], words["address"]
    )  # fmt: skip
    cand["district"] = districts_of(cand, districts)
    out = gpd.GeoDataFrame(
        cand[COLUMNS], geometry=gpd.points_from_xy(cand["lon"], cand["lat"]), crs=WGS84
    )
    log.info(
        "candidates: %d sites (%d existing); by kind: %s; %d with a name, %d with an address",
        len(out),
        n_ex,
        out["kind"].value_counts().to_dict(),
        int((out["name"] != "").sum()),
        int((out["address"] != "").sum()),
    )
    return out


def candidates_layer(
    candidates: gpd.GeoDataFrame, *, chosen: Iterable[str] | None = None
) -> gpd.GeoDataFrame:
    """Every candidate site as written to ``candidates.geojson``.

    Parameters
    ----------
    candidates
        The run's candidates (:func:`build_candidates`).
    chosen
        Site ids of the plan's stations: adds an ``in_plan`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`LAYER_COLUMNS` (those the frame has), ``in_plan`` with ``chosen``, and
        the points.
    """
    cols = [c for c in LAYER_COLUMNS if c in candidates]
    layer = gpd.GeoDataFrame(
        candidates[cols].copy(), geometry=candidates.geometry.to_numpy(), crs=candidates.crs
    )
    if chosen is not None:
        layer["in_plan"] = layer["site_id"].astype(str).isin({str(c) for c in chosen})
    return layer.reset_index(drop=True)


def _existing_sites(
    existing: pd.DataFrame, index: NodeIndex, inside: Any, snap_max_m: float
) -> pd.DataFrame:
    """Existing stations snapped to the graph; one outside the city is an error."""
    outside = [
        i
        for i, (x, y) in enumerate(zip(existing["lon"], existing["lat"], strict=True))
        if not inside.contains(Point(x, y))
    ]
    if outside:
        i = outside[0]
        raise InputError(
            f"candidates.existing: station {i + 1} ({existing['name'].iloc[i] or 'unnamed'}, "
            f"lat {existing['lat'].iloc[i]:.5f}, lon {existing['lon'].iloc[i]:.5f}) lies "
            f"outside the city boundary ({len(outside)} of {len(existing)} do)"
        )
    pos, dist = index.snap(existing["lon"].to_numpy(), existing["lat"].to_numpy())
    far = dist > snap_max_m
    if far.any():
        warnings.warn(
            f"candidates.existing: {int(far.sum())} station(s) lie more than "
            f"{snap_max_m:.0f} m from the road graph; they are kept and reached "
            "through their nearest road node",
            UserWarning,
            stacklevel=3,
        )
    return pd.DataFrame(
        {
            "kind": "existing_station",
            "name": existing["name"].to_numpy(),
            "osmid": -1,
            "existing": True,
            "pos": pos,
            "lon": existing["lon"].to_numpy(),
            "lat": existing["lat"].to_numpy(),
            "snap_m": dist,
            "ports_known": existing["ports"].to_numpy(float),
            "type_known": existing["station_type"].to_numpy(),
            "kw_known": existing["kw"].to_numpy(float),
            "source": existing["source"].to_numpy(),
            "ref": _column(existing, "ref"),
            "address": _column(existing, "address"),
        }
    )


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A text column of ``frame`` (``""`` where missing, or when it has no such column)."""
    if name not in frame:
        return np.full(len(frame), "", dtype=object)
    return frame[name].fillna("").astype(str).to_numpy(object)


def _feature_sites(features: Features, index: NodeIndex, inside: Any) -> pd.DataFrame:
    """OSM features inside the city, snapped to the graph."""
    keep = np.fromiter(
        (inside.contains(Point(x, y)) for x, y in zip(features.lon, features.lat, strict=True)),
        bool,
        len(features.lon),
    )
    pos, dist = index.snap(features.lon[keep], features.lat[keep])
    blank = np.full(len(features.kind), "", dtype=object)
    element = blank if features.element is None else features.element
    address = blank if features.address is None else features.address
    return pd.DataFrame(
        {
            "kind": features.kind[keep],
            "name": features.name[keep],
            "osmid": features.osmid[keep],
            "existing": False,
            "pos": pos,
            "lon": features.lon[keep],
            "lat": features.lat[keep],
            "snap_m": dist,
            "element": element[keep],
            "address": address[keep],
        }
    )


def _one_per_node(cand: pd.DataFrame, snap_max_m: float) -> pd.DataFrame:
    """Existing stations first, then one new site per road node (the best kind wins)."""
    cand = cand[cand["existing"] | (cand["snap_m"] <= snap_max_m)]
    rank = {kind: r for r, (_, _, kind) in enumerate(settings.CANDIDATE_TAGS)}
    rank[settings.GRID_KIND] = len(rank)
    cand = cand.assign(_rank=cand["kind"].map(rank).fillna(-1), _ex=~cand["existing"])
    cand = cand.sort_values(["_ex", "_rank", "pos", "osmid"], kind="stable")
    taken = set(cand.loc[cand["existing"], "pos"])
    new = cand[~cand["existing"]].drop_duplicates("pos")
    new = new[~new["pos"].isin(taken)]
    cand = pd.concat([cand[cand["existing"]], new], ignore_index=True)
    cand = cand.drop(columns=["_rank", "_ex"])
    for col, empty in (("ports_known", np.nan), ("type_known", ""), ("kw_known", np.nan),
                       ("source", ""), ("ref", ""), ("element", ""), ("address", "")):  # fmt: skip
        cand[col] = cand[col].fillna(empty) if col in cand else empty
    new_site = ~cand["existing"] & (cand["source"] == "")
    cand.loc[new_site, "source"] = np.where(
        cand.loc[new_site, "kind"] == settings.GRID_KIND, "road grid", "osm"
    )
    return cand


def _grid(index: NodeIndex, area: BaseGeometry, spacing: float) -> pd.DataFrame:
    """The road node nearest to each point of a square grid inside ``area``."""
    area_m = gpd.GeoSeries([area], crs=WGS84).to_crs(index.crs).iloc[0]
    minx, miny, maxx, maxy = area_m.bounds
    xs = np.arange(minx + spacing / 2, maxx, spacing)
    ys = np.arange(miny + spacing / 2, maxy, spacing)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    inside = prep(area_m)
    mask = np.fromiter((inside.contains(Point(x, y)) for x, y in pts), bool, len(pts))
    pts = pts[mask]
    dist, pos = index.tree.query(pts)
    near = dist <= spacing / 2  # no road in this grid square: no candidate
    pos = np.asarray(pos)[near]
    return pd.DataFrame(
        {
            "kind": settings.GRID_KIND,
            "name": "",
            "osmid": -1,
            "existing": False,
            "pos": pos,
            "lon": index.lon[pos],
            "lat": index.lat[pos],
            "snap_m": 0.0,
        }
    )


def _normalise_columns(df: pd.DataFrame, path: Path, field: str) -> pd.DataFrame:
    """The station columns of a file's table under their standard names, values as
    they arrived (checked by :func:`siting.existing.check_table`)."""
    lower = {c.lower(): c for c in df.columns}
    lat = next((lower[c] for c in ("lat", "latitude", "y") if c in lower), None)
    lon = next((lower[c] for c in ("lon", "lng", "longitude", "x") if c in lower), None)
    if lat is None or lon is None:
        raise DataFileError(
            f"{field}: {path} needs 'lat' and 'lon' columns; has {', '.join(map(str, df.columns))}"
        )
    kind = next((lower[c] for c in ("station_type", "type") if c in lower), None)
    if kind is None:
        raise DataFileError(
            f"{field}: {path} needs a 'station_type' column (AC or DC for every station); "
            f"has {', '.join(map(str, df.columns))}"
        )
    ref = next((lower[c] for c in ("site_id", "id", "ref") if c in lower), None)
    columns = {"name": lower.get("name"), "lon": lon, "lat": lat, "ports": lower.get("ports")}
    columns |= {"station_type": kind, "kw": lower.get("kw"), "source": lower.get("source")}
    columns |= {"ref": ref, "address": lower.get("address")}
    return pd.DataFrame(
        {new: (df[old] if old is not None else None) for new, old in columns.items()},
        index=df.index,
    )


def _is_geojson(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as fh:
            head = fh.read(2048)
    except (OSError, UnicodeDecodeError):
        return False
    return '"FeatureCollection"' in head or '"Feature"' in head
