"""Private: the sites a council forces into the plan or keeps out of it
(``candidates.force``, ``candidates.exclude``, ``candidates.exclude_areas``), as
candidate positions for the request builder (:mod:`siting.request`).

An entry names a candidate by its stable ``site_id`` (as in ``candidates.geojson``),
by its OSM id (``123456`` or ``osm-node-123456``), or by a point ``"lat,lon"`` taken to
the nearest candidate within ``candidates.snap_max_m``. ``exclude_areas`` is a polygon
file (GeoJSON, GeoPackage): every candidate inside it is kept out. Existing stations
are kept in every plan: forcing one changes nothing (said so), excluding one is an
error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
from scipy.spatial import cKDTree

from siting.errors import InputError

if TYPE_CHECKING:
    from siting.results import Inputs
    from siting.scenario import Scenario

log = logging.getLogger(__name__)

_POINT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, eq=False)
class SiteControls:
    """Candidate positions forced into every plan and kept out of every plan."""

    forced: np.ndarray
    closed: np.ndarray
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(len(self.forced) or len(self.closed))


def asks_for_controls(sc: Scenario) -> bool:
    """Whether the scenario forces or excludes any site."""
    c = sc.candidates
    return bool(c.force or c.exclude or c.exclude_areas)


def site_controls(sc: Scenario, inputs: Inputs) -> SiteControls:
    """The scenario's forced and excluded sites on this run's candidates.

    Raises
    ------
    InputError
        An entry names no candidate, a point lies farther than ``snap_max_m`` from
        every candidate, a site is both forced and excluded, or an existing station
        is excluded.
    """
    cand = inputs.candidates
    existing = cand["existing"].to_numpy(bool)
    notes: list[str] = []
    forced = _resolve(sc, inputs, sc.candidates.force, "candidates.force")
    closed = _resolve(sc, inputs, sc.candidates.exclude, "candidates.exclude")
    if sc.candidates.exclude_areas:
        inside = _inside_areas(sc, inputs)
        closed = np.union1d(closed, inside)
        notes.append(f"{len(inside)} candidates inside candidates.exclude_areas kept out")
    kept = forced[existing[forced]]
    if len(kept):
        notes.append(f"{len(kept)} forced sites are existing stations, kept in every plan anyway")
        forced = forced[~existing[forced]]
    old = closed[existing[closed]]
    if len(old):
        ids = ", ".join(str(cand["site_id"].iloc[j]) for j in old[:3])
        raise InputError(
            f"candidates.exclude: expected new sites, got existing station(s) {ids}, which "
            "every plan keeps"
        )
    both = np.intersect1d(forced, closed)
    if len(both):
        ids = ", ".join(str(cand["site_id"].iloc[j]) for j in both[:3])
        raise InputError(f"candidates.force, candidates.exclude: site(s) {ids} in both")
    return SiteControls(forced.astype(np.int64), closed.astype(np.int64), tuple(notes))


def _resolve(sc: Scenario, inputs: Inputs, entries: list[str], field: str) -> np.ndarray:
    """Candidate positions of a list of site ids, OSM ids or "lat,lon" points."""
    cand = inputs.candidates
    by_id = {str(s): j for j, s in enumerate(cand["site_id"].astype(str))}
    by_osm: dict[str, int] = {}
    for j, osmid in enumerate(cand["osmid"].to_numpy()):
        if int(osmid) > 0:
            by_osm.setdefault(str(int(osmid)), j)
    out: list[int] = []
    points: list[tuple[int, float, float]] = []
    for k, entry in enumerate(entries):
        text = str(entry).strip()
        if text in by_id:
            out.append(by_id[text])
        elif text in by_osm:
            out.append(by_osm[text])
        elif (m := _POINT.match(text)) is not None:
            points.append((k, float(m.group(1)), float(m.group(2))))
        else:
            raise InputError(
                f"{field}[{k}]: expected a site id of this run's candidates "
                f"(candidates.geojson), an OSM id or 'lat,lon', got {text!r}"
            )
    if points:
        snap = sc.candidates.snap_max_m
        xy = inputs.index.to_metric(cand["lon"].to_numpy(), cand["lat"].to_numpy())
        lat = np.array([p[1] for p in points])
        lon = np.array([p[2] for p in points])
        dist, nearest = cKDTree(xy).query(inputs.index.to_metric(lon, lat))
        for (k, la, lo), d, j in zip(points, dist, nearest, strict=True):
            if d > snap:
                raise InputError(
                    f"{field}[{k}]: expected a point within candidates.snap_max_m ({snap:g} m) "
                    f"of a candidate site, got {la:g},{lo:g} ({d:,.0f} m from the nearest)"
                )
            out.append(int(j))
    return np.unique(np.asarray(out, dtype=np.int64))


def _inside_areas(sc: Scenario, inputs: Inputs) -> np.ndarray:
    """Candidates inside the polygons of ``candidates.exclude_areas``."""
    field = "candidates.exclude_areas"
    path = sc.resolve(sc.candidates.exclude_areas, field=field)
    assert path is not None
    try:
        areas = gpd.read_file(path)
    except Exception as exc:
        raise InputError(f"{field}: expected a polygon file (GeoJSON, GeoPackage), {exc}") from None
    polys = areas[areas.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        raise InputError(f"{field}: expected polygons, got none in {path.name}")
    if polys.crs is not None:
        polys = polys.to_crs(4326)
    cand = inputs.candidates
    pts = gpd.GeoSeries(gpd.points_from_xy(cand["lon"], cand["lat"]), crs=4326)
    inside = pts.within(polys.geometry.union_all()).to_numpy(bool)
    return np.flatnonzero(inside).astype(np.int64)
