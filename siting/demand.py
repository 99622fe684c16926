"""Stage 2 — charging demand on a hexagonal (H3) grid.

Residents' demand follows where people live. The population layer (polygons
with a numeric column, area-weighted; or points) gives the pattern; when
official district totals are given, the pattern is rescaled inside each
district so that district sums match them exactly. The result is spread onto
H3 cells covering the city, and each cell gets

.. math::

    \\text{sessions}_c = V \\cdot \\frac{P_c}{\\sum_k P_k} \\cdot s_{EV} \\cdot
    s_{pub} \\cdot f, \\qquad \\text{kWh}_c = \\text{sessions}_c \\cdot e

with registered vehicles :math:`V`, population :math:`P_c` of the cell, EV share
:math:`s_{EV}`, share of EVs relying on public charging :math:`s_{pub}`,
sessions per EV per day :math:`f` and energy per session :math:`e`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from siting._errors import DataFileError, InputError
from siting._io import WGS84, utm_crs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResidentsAssumptions:
    """Behaviour figures of the residents' segment (see :class:`ResidentsConfig`)."""

    vehicles: float
    ev_share: float
    public_share: float
    sessions_per_ev_day: float
    kwh_per_session: float

    def __post_init__(self) -> None:
        for name in ("vehicles", "sessions_per_ev_day", "kwh_per_session"):
            if getattr(self, name) < 0:
                raise InputError(
                    f"demand.residents.{name}: expected >= 0, got {getattr(self, name)}"
                )
        for name in ("ev_share", "public_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(
                    f"demand.residents.{name}: expected a share in [0, 1], got {value}"
                )

    @property
    def public_evs(self) -> float:
        """EVs relying on public charging."""
        return self.vehicles * self.ev_share * self.public_share

    @property
    def sessions_per_day(self) -> float:
        """City total of public charging sessions per day."""
        return self.public_evs * self.sessions_per_ev_day


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
    values = pd.to_numeric(population[column], errors="coerce")
    if values.isna().any():
        raise DataFileError(f"demand.population_column: {column!r} has non-numeric values")
    if (values < 0).any():
        raise DataFileError(f"demand.population_column: {column!r} has negative values")
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


def residents_demand(
    parts: pd.DataFrame,
    cells: gpd.GeoDataFrame,
    assumptions: ResidentsAssumptions,
    *,
    metric_crs: object,
) -> gpd.GeoDataFrame:
    """Demand points: one per populated cell, with residents' sessions and kWh.

    Returns a GeoDataFrame (WGS84) whose geometry is the hexagon and whose
    ``lon``/``lat`` are the population-weighted centre, the point a driver
    starts from.
    """
    total = float(parts["pop"].sum())
    if total <= 0:
        raise DataFileError("demand.population: the population layer sums to zero")
    share = parts["pop"] / total
    parts = parts.assign(vehicles=share * assumptions.vehicles)
    parts["sessions_day"] = share * assumptions.sessions_per_day
    g = parts.assign(wx=parts["cx"] * parts["pop"], wy=parts["cy"] * parts["pop"])
    by_cell = g.groupby("h3", sort=True).agg(
        pop=("pop", "sum"),
        vehicles=("vehicles", "sum"),
        sessions_day=("sessions_day", "sum"),
        wx=("wx", "sum"),
        wy=("wy", "sum"),
    )
    main = parts.sort_values(["h3", "pop"], ascending=[True, False]).drop_duplicates("h3")
    by_cell["district"] = main.set_index("h3")["district"]
    by_cell = by_cell[by_cell["pop"] > 0]
    pts = gpd.GeoSeries(
        [
            Point(x, y)
            for x, y in zip(
                by_cell["wx"] / by_cell["pop"], by_cell["wy"] / by_cell["pop"], strict=True
            )
        ],
        crs=metric_crs,
    ).to_crs(WGS84)
    hexes = cells.set_index("h3").loc[by_cell.index, "geometry"]
    out = gpd.GeoDataFrame(
        {
            "demand_id": np.arange(len(by_cell)),
            "h3": by_cell.index.to_numpy(),
            "district": by_cell["district"].to_numpy(),
            "population": by_cell["pop"].to_numpy(),
            "vehicles": by_cell["vehicles"].to_numpy(),
            "evs": by_cell["vehicles"].to_numpy() * assumptions.ev_share,
            "sessions_day": by_cell["sessions_day"].to_numpy(),
            "kwh_day": by_cell["sessions_day"].to_numpy() * assumptions.kwh_per_session,
            "lon": pts.x.to_numpy(),
            "lat": pts.y.to_numpy(),
        },
        geometry=hexes.to_numpy(),
        crs=WGS84,
    )
    log.info(
        "demand: %d cells, %.0f residents, %.0f sessions/day",
        len(out),
        out["population"].sum(),
        out["sessions_day"].sum(),
    )
    return out


def district_summary(
    demand: gpd.GeoDataFrame, parts: pd.DataFrame, total_sessions: float
) -> pd.DataFrame:
    """Population and sessions per district, computed from the exact parts table."""
    total_pop = float(parts["pop"].sum())
    by = parts.groupby("district", sort=True)["pop"].sum().to_frame("population")
    by["sessions_day"] = by["population"] / total_pop * total_sessions
    by["cells"] = demand.groupby("district").size().reindex(by.index).fillna(0).astype(int)
    return by.reset_index()


# ----------------------------------------------------------------- internals
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
