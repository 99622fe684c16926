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
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._io import WGS84
from siting.cells import cell_districts, demand_points
from siting.errors import DataFileError
from siting.scenario import Scenario, resolve_segments
from siting.segments import SEGMENTS, Segment
from siting.travel import TravelTimes

if TYPE_CHECKING:
    from siting.results import Inputs

log = logging.getLogger(__name__)


@dataclass
class Demand:
    """One scenario's charging demand on a run's inputs (what stage 2b makes).

    ``points`` has one row per cell with demand (see :func:`build_demand`) and
    ``travel`` their rows of the drive-time matrix; ``alloc`` and ``by_district``
    split it over districts (:func:`district_allocation`, :func:`district_summary`).
    """

    preset: str
    segments: dict[str, Segment]
    points: gpd.GeoDataFrame
    travel: TravelTimes
    peak_hour_share: float
    alloc: pd.DataFrame | None = None
    by_district: pd.DataFrame | None = None

    @property
    def weights(self) -> np.ndarray:
        """Sessions per day at each demand point."""
        return self.points["sessions_day"].to_numpy()

    def by_charger(self) -> tuple[np.ndarray, np.ndarray]:
        """Sessions per day at each point needing AC (any port) and DC ports."""
        return charger_demand(self.points, self.segments)


def demand_stage(sc: Scenario, inputs: Inputs, *, by_district: bool = True) -> Demand:
    """Stage 2b of ``sc``: its segments' sessions on the cells of ``inputs``, the
    travel-time rows of the cells with demand and (``by_district``) the figures
    per district."""
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
    need = Demand(dc.preset, segments, demand, tt, dc.peak_hour_share)
    if by_district:
        need.alloc = district_allocation(demand, inputs.parts, segments)
        need.by_district = district_summary(
            need.alloc, inputs.parts, peak_hour_share=dc.peak_hour_share, segments=segments
        )
    return need


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

    patterns = _patterns(
        h3_ids,
        segments,
        pop=pop,
        jobs=jobs,
        hubs=hubs,
        corridors=corridors,
        corridor_share=corridor_share,
        taxi_jobs_weight=taxi_jobs_weight,
    )
    _add_sessions(table, patterns, segments)
    table["district"] = cell_districts(cells, districts, district_column, metric_crs)
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


def _add_sessions(
    table: pd.DataFrame, patterns: dict[str, np.ndarray], segments: dict[str, Segment]
) -> None:
    """Add each segment's sessions and kWh per day (its pattern times its city total),
    their sums and the DC sessions to ``table`` (in place)."""
    sessions = np.zeros(len(table))
    kwh = np.zeros(len(table))
    dc = np.zeros(len(table))
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


def _patterns(
    h3_ids: np.ndarray,
    segments: dict[str, Segment],
    *,
    pop: pd.Series,
    jobs: pd.Series,
    hubs: pd.Series | None,
    corridors: pd.Series | None,
    corridor_share: float,
    taxi_jobs_weight: float,
) -> dict[str, np.ndarray]:
    """Each segment's spatial pattern: its share of the city total in each cell."""

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
                    stacklevel=3,
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
                stacklevel=3,
            )
        patterns["taxis"] = p

    return patterns


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
