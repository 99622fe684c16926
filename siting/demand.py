"""Stage 2 — charging demand on a hexagonal (H3) grid, by segment.

Three segments, each an input count turned into public charging sessions by
its own behaviour (EV share, share relying on public charging, sessions per EV
per day, energy per session, charger class; see :class:`Segment`):

* **residents** — registered vehicles, spread by where people live: the
  population layer's pattern inside each district, rescaled so that district
  sums match the official totals exactly;
* **inbound** — vehicles entering the city each day, charging at destinations
  spread by jobs, and optionally a share at the entry corridors where main
  roads cross the city boundary;
* **taxis** — registered drivers (one shift a day), fast (DC) charging spread
  partly by jobs and partly by taxi hubs (airport, rail and bus stations, taxi
  stands, markets, malls).

Population and jobs layers are any polygons (area-weighted) or points with a
numeric column; for a city without them, :func:`siting._osm.read_proxies`
derives proxies from OSM buildings, land use and points of interest.
Each segment's city total is exactly its count times its shares, whatever the
spatial pattern.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import h3
import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from siting._errors import DataFileError, InputError
from siting._io import WGS84, utm_crs

log = logging.getLogger(__name__)


SEGMENTS = ("residents", "inbound", "taxis")


@dataclass(frozen=True)
class Segment:
    """One demand segment: an input count and the behaviour that turns it into sessions.

    ``count`` is vehicles (residents: registered; inbound: entering per day) or, for
    taxis, registered drivers (one shift a day). Sessions per day are

    .. math:: S = \\text{count} \\cdot s_{EV} \\cdot s_{pub} \\cdot f

    and energy per day :math:`E = S \\cdot e`.
    """

    name: str
    count: float
    ev_share: float
    public_share: float
    sessions_per_ev_day: float
    kwh_per_session: float
    charger: str = "AC"

    def __post_init__(self) -> None:
        for field in ("count", "sessions_per_ev_day", "kwh_per_session"):
            value = getattr(self, field)
            if not np.isfinite(value) or value < 0:
                raise InputError(f"demand.{self.name}.{field}: expected a number >= 0, got {value}")
        for field in ("ev_share", "public_share"):
            value = getattr(self, field)
            if not 0.0 <= value <= 1.0:
                raise InputError(
                    f"demand.{self.name}.{field}: expected a share in [0, 1], got {value}"
                )
        if self.charger not in ("AC", "DC"):
            raise InputError(
                f"demand.{self.name}.charger: expected 'AC' or 'DC', got {self.charger!r}"
            )

    @property
    def evs(self) -> float:
        """Electric vehicles of the segment."""
        return self.count * self.ev_share

    @property
    def sessions_per_day(self) -> float:
        """Public charging sessions per day, city total."""
        return self.count * self.ev_share * self.public_share * self.sessions_per_ev_day

    @property
    def kwh_per_day(self) -> float:
        """Energy per day at public stations, city total."""
        return self.sessions_per_day * self.kwh_per_session


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
    values = _counts(population, column, field="demand.population_column")
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
    pieces = _split(pop, "pop", zones)
    if totals is not None:
        pieces = _rescale(pieces, zones, totals)
    return pieces


def allocate_to_cells(pieces: gpd.GeoDataFrame, cells: gpd.GeoDataFrame) -> pd.DataFrame:
    """Spread population pieces onto cells; return one row per (cell, district).

    Columns: ``h3``, ``district``, ``pop``, ``cx``, ``cy`` (population-weighted
    centroid of the part, metric CRS). District sums are kept exactly: mass
    that falls outside every cell (a sliver at the edge) is put back by
    rescaling within its district.
    """
    cells_m = cells.to_crs(pieces.crs)
    parts = _split(pieces, "pop", cells_m[["h3", "geometry"]], keep=["district"])
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
    values = _counts(layer, column, field=field)
    metric = utm_crs(cells)
    lay = gpd.GeoDataFrame(
        {"v": values.to_numpy(float)}, geometry=layer.geometry.to_numpy(), crs=layer.crs
    ).to_crs(metric)
    zones = cells[["h3", "geometry"]].to_crs(metric)
    if not lay.intersects(zones.union_all()).any():
        raise DataFileError(f"{field}: the layer does not overlap the city")
    parts = _split(lay, "v", zones)
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


def build_demand(
    cells: gpd.GeoDataFrame,
    residents_parts: pd.DataFrame,
    segments: dict[str, Segment],
    *,
    jobs: pd.Series,
    hubs: pd.Series | None = None,
    corridors: pd.Series | None = None,
    corridor_share: float = 0.0,
    taxi_jobs_weight: float = 0.5,
    districts: gpd.GeoDataFrame | None = None,
    district_column: str = "name",
    metric_crs: object,
) -> gpd.GeoDataFrame:
    """Demand points: one per cell with demand, with sessions and kWh per segment.

    Parameters
    ----------
    cells
        H3 cells of the city (:func:`h3_cells`).
    residents_parts
        Population per (cell, district) from :func:`allocate_to_cells`.
    segments
        ``residents``, ``inbound`` and ``taxis`` (any may be absent).
    jobs
        Jobs per cell (pattern of inbound and part of taxi demand).
    hubs
        Taxi-hub weight per cell; taxi demand is ``taxi_jobs_weight`` by jobs and
        the rest by hubs.
    corridors, corridor_share
        Entry-corridor weight per cell and the share of inbound demand charged there.
    districts
        District polygons; a cell's district is the one it overlaps most.

    Returns
    -------
    geopandas.GeoDataFrame
        Hexagon geometry (WGS84) and columns ``h3``, ``district``, ``population``,
        ``jobs``, ``<segment>_sessions_day`` and ``<segment>_kwh_day`` per segment,
        ``sessions_day``, ``kwh_day``, ``dc_sessions_day``, ``lon``, ``lat``
        (population-weighted centre where people live, else the cell centre).
    """
    h3_ids = cells["h3"].to_numpy()
    table = pd.DataFrame(index=pd.Index(h3_ids, name="h3"))
    pop = residents_parts.groupby("h3")["pop"].sum().reindex(h3_ids, fill_value=0.0)
    table["population"] = pop.to_numpy()
    table["jobs"] = jobs.reindex(h3_ids, fill_value=0.0).to_numpy()

    def share(series: pd.Series | None, what: str) -> np.ndarray:
        if series is None:
            return np.zeros(len(h3_ids))
        v = series.reindex(h3_ids, fill_value=0.0).to_numpy(float)
        total = v.sum()
        if total <= 0:
            raise DataFileError(f"demand: the {what} layer has nothing inside the city")
        return v / total

    patterns: dict[str, np.ndarray] = {}
    if "residents" in segments:
        patterns["residents"] = share(pop, "population")
    if "inbound" in segments:
        p = share(jobs, "jobs")
        if corridor_share > 0:
            if corridors is None or corridors.sum() <= 0:
                warnings.warn(
                    "demand.inbound.corridor_share: no entry corridor found; "
                    "all inbound demand follows jobs",
                    UserWarning,
                    stacklevel=2,
                )
            else:
                p = (1 - corridor_share) * p + corridor_share * share(corridors, "corridors")
        patterns["inbound"] = p
    if "taxis" in segments:
        p = share(jobs, "jobs")
        if hubs is not None and hubs.sum() > 0 and taxi_jobs_weight < 1:
            p = taxi_jobs_weight * p + (1 - taxi_jobs_weight) * share(hubs, "taxi hubs")
        elif taxi_jobs_weight < 1:
            warnings.warn(
                "demand.taxis: no taxi hub found in the city; taxi demand follows jobs",
                UserWarning,
                stacklevel=2,
            )
        patterns["taxis"] = p

    sessions = np.zeros(len(h3_ids))
    kwh = np.zeros(len(h3_ids))
    dc = np.zeros(len(h3_ids))
    for name, seg in segments.items():
        s_c = patterns[name] * seg.sessions_per_day
        table[f"{name}_sessions_day"] = s_c
        table[f"{name}_kwh_day"] = s_c * seg.kwh_per_session
        sessions += s_c
        kwh += s_c * seg.kwh_per_session
        if seg.charger == "DC":
            dc += s_c
    table["sessions_day"] = sessions
    table["kwh_day"] = kwh
    table["dc_sessions_day"] = dc

    table["district"] = _cell_districts(cells, districts, district_column, metric_crs)
    table["lon"], table["lat"] = demand_points(cells, residents_parts, metric_crs)

    keep = table["sessions_day"].to_numpy() > 0
    table = table[keep]
    out = gpd.GeoDataFrame(
        table.reset_index(),
        geometry=cells.set_index("h3").loc[table.index, "geometry"].to_numpy(),
        crs=WGS84,
    )
    out.insert(0, "demand_id", np.arange(len(out)))
    log.info(
        "demand: %d cells, %.0f sessions/day (%s)",
        len(out),
        out["sessions_day"].sum(),
        ", ".join(f"{n} {s.sessions_per_day:.0f}" for n, s in segments.items()),
    )
    return out


def district_allocation(
    demand: gpd.GeoDataFrame, residents_parts: pd.DataFrame, segments: dict[str, Segment]
) -> pd.DataFrame:
    """Each cell's sessions and kWh split over districts: one row per (cell, district).

    Residents' demand is split by the exact population parts, so district sums match
    the official totals; other segments go to the cell's district. Summing any column
    by district gives the district figures; joining with per-cell results (e.g.
    coverage) gives consistent per-district results.
    """
    frames = []
    if "residents" in segments:
        seg = segments["residents"]
        total_pop = float(residents_parts["pop"].sum())
        rp = residents_parts[residents_parts["pop"] > 0]
        sess = rp["pop"] / total_pop * seg.sessions_per_day if total_pop else rp["pop"] * 0.0
        frames.append(
            pd.DataFrame(
                {
                    "h3": rp["h3"],
                    "district": rp["district"],
                    "segment": "residents",
                    "sessions_day": sess,
                    "kwh_day": sess * seg.kwh_per_session,
                }
            )
        )
    for name, seg in segments.items():
        if name == "residents":
            continue
        col = demand[f"{name}_sessions_day"]
        frames.append(
            pd.DataFrame(
                {
                    "h3": demand["h3"],
                    "district": demand["district"],
                    "segment": name,
                    "sessions_day": col,
                    "kwh_day": col * seg.kwh_per_session,
                }
            )
        )
    alloc = pd.concat(frames, ignore_index=True)
    return alloc[alloc["sessions_day"] > 0].reset_index(drop=True)


def district_summary(
    alloc: pd.DataFrame,
    residents_parts: pd.DataFrame,
    *,
    peak_hour_share: float,
    segments: Iterable[str] = (),
) -> pd.DataFrame:
    """Per district: residents, sessions and kWh per segment, and peak load (MW).

    ``alloc`` comes from :func:`district_allocation`. The peak load is the busiest
    hour's energy, ``kwh_day × peak_hour_share``, in MW. Every segment named in
    ``segments`` gets its columns, zero where it has no demand (a segment set to
    zero vehicles has no rows in ``alloc``).
    """
    wide = alloc.pivot_table(
        index="district",
        columns="segment",
        values=["sessions_day", "kwh_day"],
        aggfunc="sum",
        fill_value=0.0,
    )
    by = pd.DataFrame(index=wide.index)
    by["population"] = (
        residents_parts.groupby("district")["pop"].sum().reindex(by.index).fillna(0.0)
    )
    for seg in sorted(set(alloc["segment"]) | set(segments), key=SEGMENTS.index):
        for value in ("sessions_day", "kwh_day"):
            col = wide[(value, seg)] if (value, seg) in wide.columns else 0.0
            by[f"{seg}_{value}"] = col
    by["sessions_day"] = alloc.groupby("district")["sessions_day"].sum()
    by["kwh_day"] = alloc.groupby("district")["kwh_day"].sum()
    by["peak_mw"] = by["kwh_day"] * peak_hour_share / 1000.0
    return by.reset_index()


def _cell_districts(
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


# ----------------------------------------------------------------- internals
def _counts(layer: gpd.GeoDataFrame, column: str, *, field: str) -> pd.Series:
    """``layer[column]`` as numbers, which must all be present and non-negative."""
    values = pd.to_numeric(layer[column], errors="coerce")
    if values.isna().any():
        raise DataFileError(f"{field}: column {column!r} has non-numeric values")
    if (values < 0).any():
        raise DataFileError(f"{field}: column {column!r} has negative values")
    return values


def _split(
    layer: gpd.GeoDataFrame, value: str, zones: gpd.GeoDataFrame, *, keep: list[str] | None = None
) -> gpd.GeoDataFrame:
    """Split ``layer[value]`` over ``zones``: by area for polygons, whole for points."""
    keep = keep or []
    zone_cols = [c for c in zones.columns if c != "geometry"]
    is_point = layer.geom_type.isin(["Point", "MultiPoint"])
    parts = []
    if is_point.any():
        pts = layer[is_point][[value, *keep, "geometry"]]
        joined = gpd.sjoin(pts, zones, how="inner", predicate="within").drop(columns="index_right")
        parts.append(joined[[*zone_cols, value, *keep, "geometry"]])
    if (~is_point).any():
        polys = layer[~is_point][[value, *keep, "geometry"]].copy()
        polys["_area"] = polys.geometry.area
        polys = polys[polys["_area"] > 0]
        inter = gpd.overlay(polys, zones, how="intersection", keep_geom_type=True)
        inter[value] = inter[value] * inter.geometry.area / inter["_area"]
        parts.append(inter[[*zone_cols, value, *keep, "geometry"]])
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=layer.crs)


def _rescale(
    pieces: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, totals: pd.Series
) -> gpd.GeoDataFrame:
    names = set(zones["district"])
    unknown = sorted(set(totals.index) - names)
    if unknown:
        raise DataFileError(
            f"demand.district_totals: district(s) {', '.join(unknown)} are not in the districts "
            f"layer (it has {', '.join(sorted(names))})"
        )
    missing = sorted(names - set(totals.index))
    if missing:
        warnings.warn(
            f"demand.district_totals has no figure for {', '.join(missing)}; their population "
            "pattern is used unscaled",
            UserWarning,
            stacklevel=3,
        )
    sums = pieces.groupby("district")["pop"].sum()
    extra = []
    for name, official in totals.items():
        have = float(sums.get(name, 0.0))
        if have > 0:
            continue
        warnings.warn(
            f"demand.population has no population in district {name!r}; "
            f"its official {official:,.0f} residents are spread uniformly over its area",
            UserWarning,
            stacklevel=3,
        )
        zone = zones[zones["district"] == name]
        extra.append(
            gpd.GeoDataFrame(
                {"district": [name], "pop": [1.0]}, geometry=zone.geometry.to_numpy(), crs=zones.crs
            )
        )
    if extra:
        pieces = gpd.GeoDataFrame(pd.concat([pieces, *extra], ignore_index=True), crs=pieces.crs)
        sums = pieces.groupby("district")["pop"].sum()
    factor = (totals.reindex(sums.index) / sums).fillna(1.0)
    pieces = pieces.copy()
    pieces["pop"] = pieces["pop"] * pieces["district"].map(factor).to_numpy()
    return pieces


def charger_demand(
    demand: gpd.GeoDataFrame, segments: dict[str, Segment]
) -> tuple[np.ndarray, np.ndarray]:
    """Sessions per day per demand point needing AC (any port) and DC ports."""
    ac = np.zeros(len(demand))
    dc = np.zeros(len(demand))
    for name, seg in segments.items():
        col = f"{name}_sessions_day"
        if col not in demand:
            continue
        values = demand[col].to_numpy()
        if seg.charger == "DC":
            dc += values
        else:
            ac += values
    return ac, dc
