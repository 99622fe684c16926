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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
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
    return bool(c.force or c.exclude or c.exclude_areas or c.force_file or c.exclude_file)


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
    c = sc.candidates
    forced = _resolve(sc, inputs, [*c.force, *_listed(sc, c.force_file, "force_file")],
                      "candidates.force", notes)  # fmt: skip
    closed = _resolve(sc, inputs, [*c.exclude, *_listed(sc, c.exclude_file, "exclude_file")],
                      "candidates.exclude", notes)  # fmt: skip
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


def _listed(sc: Scenario, value: str | None, name: str) -> list[str]:
    """The entries of a ``candidates.force_file`` / ``exclude_file`` (none without)."""
    field = f"candidates.{name}"
    path = sc.resolve(value, field=field)
    return [] if path is None else read_plan_file(path, field=field)


def _resolve(
    sc: Scenario, inputs: Inputs, entries: list[str], field: str, notes: list[str]
) -> np.ndarray:
    """Candidate positions of a list of site ids, OSM ids or "lat,lon" points; entries
    on the same candidate are merged and said so in ``notes``."""
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
    arr = np.asarray(out, dtype=np.int64)
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        ids = cand["site_id"].astype(str).to_numpy()
        twice = [f"{ids[j]} ({k} entries)" for j, k in zip(uniq, counts, strict=True) if k > 1]
        notes.append(
            f"{field}: {len(arr)} entries fell on {len(uniq)} candidates; merged: "
            + ", ".join(twice[:5])
            + (f" and {len(twice) - 5} more" if len(twice) > 5 else "")
        )
        log.info("%s", notes[-1])
    return uniq


def _inside_areas(sc: Scenario, inputs: Inputs) -> np.ndarray:
    """Candidates inside the polygons of ``candidates.exclude_areas``."""
    field = "candidates.exclude_areas"
    path = sc.resolve(sc.candidates.exclude_areas, field=field)
    if path is None:
        return np.zeros(0, dtype=np.int64)
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


def read_plan_file(path: Path, *, field: str = "PLAN") -> list[str]:
    """The sites of a plan brought as a CSV: a ``site_id`` column (this run's ids or
    OSM ids), else ``lat`` and ``lon`` columns (each row the nearest candidate), as
    entries of ``candidates.force``.

    Raises
    ------
    InputError
        The file is missing or unreadable, has neither column, a row lacks its value,
        or it lists no site.
    """
    if not path.is_file():
        raise InputError(f"{field}: expected a CSV file of sites, got {str(path)!r} (not found)")
    try:
        table = pd.read_csv(path, comment="#", dtype=str)
    except Exception as exc:  # any unreadable file is the user's to fix
        raise InputError(f"{field}: expected a CSV file of sites, {exc}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "site_id" in table.columns:
        values = table["site_id"]
        missing = values.isna() | (values.str.strip() == "")
        entries = values.str.strip()
    elif {"lat", "lon"} <= set(table.columns):
        lat = pd.to_numeric(table["lat"], errors="coerce")
        lon = pd.to_numeric(table["lon"], errors="coerce")
        missing = lat.isna() | lon.isna()
        entries = lat.map("{:.6f}".format) + "," + lon.map("{:.6f}".format)
    else:
        raise InputError(
            f"{field}: expected a site_id column or lat and lon columns in {path.name}, got "
            f"{', '.join(table.columns) or 'no columns'}"
        )
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 2  # the header is line 1
        raise InputError(f"{field}: line {row} of {path.name} gives no site")
    if entries.empty:
        raise InputError(f"{field}: expected at least one site in {path.name}, got none")
    return entries.tolist()


def evaluation_overrides(
    sc: Scenario, inputs: Inputs, entries: list[str], *, swaps: int
) -> dict[str, Any]:
    """The overrides that make a run of ``sc`` score the plan of ``entries``: those
    sites forced, ``p`` the existing stations and them, ``swaps`` swaps asked for."""
    over: dict[str, Any] = {"candidates.force": entries}
    controls = site_controls(sc.with_overrides(over), inputs)
    n_existing = int(inputs.candidates["existing"].to_numpy(bool).sum())
    return {
        **over,
        "optimize.p": n_existing + len(controls.forced),
        "optimize.swaps": swaps,
        "optimize.curve": None,  # other station counts cannot hold the plan's sites
        "optimize.phases": None,
    }
