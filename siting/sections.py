"""The sections of a scenario file, one validated model each.

``[network]``, ``[demand]`` (with ``[demand.residents]``, ``[demand.inbound]``,
``[demand.taxis]``), ``[candidates]``, ``[travel]``, ``[optimize]`` (with its
``capacity``, ``budget``, ``choose`` and ``minimum`` tables and ``[[optimize.designs]]``),
``[costs]``, ``[benefits]`` and ``[economics]``. Unknown keys are errors, types are
strict (no ``true`` for a number, no number for ``true``/``false`` or a string, no
string for a number; an integer is a valid float), no number is infinite or NaN, and
every number has a range (the bounds in :mod:`siting.settings`);
:class:`siting.scenario.Scenario` holds them together.

This module holds the sections of what the city is (network, demand, candidates,
travel); the optimisation and valuation sections are in :mod:`siting._plan_sections`
and the base they share in :mod:`siting._section_base`, all exported from here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from siting import settings
from siting._plan_sections import (
    BenefitsConfig,
    BudgetConfig,
    CapacityConfig,
    CostsConfig,
    DesignConfig,
    EconomicsConfig,
    FuturesConfig,
    MinimumConfig,
    OptimizeConfig,
    PlanChoiceConfig,
    StageConfig,
    StagingConfig,
    candidate_kinds,
)
from siting._section_base import (
    FOLDER_NAME,
    FolderName,
    Kilowatts,
    Metres,
    Minutes,
    Money,
    NonNegativeMinutes,
    PositiveMetres,
    PositiveMoney,
    Share,
    Speed,
    Stations,
    _Strict,
    folder_name,
)

__all__ = [
    "FOLDER_NAME",
    "BenefitsConfig",
    "BudgetConfig",
    "CandidatesConfig",
    "CapacityConfig",
    "CostsConfig",
    "DemandConfig",
    "DesignConfig",
    "EconomicsConfig",
    "FolderName",
    "FuturesConfig",
    "InboundConfig",
    "Kilowatts",
    "Metres",
    "MinimumConfig",
    "Minutes",
    "Money",
    "NetworkConfig",
    "NonNegativeMinutes",
    "OptimizeConfig",
    "PlanChoiceConfig",
    "PositiveMetres",
    "PositiveMoney",
    "SegmentConfig",
    "Share",
    "Speed",
    "StageConfig",
    "StagingConfig",
    "Stations",
    "TaxiConfig",
    "TravelConfig",
    "candidate_kinds",
    "folder_name",
]


class NetworkConfig(_Strict):
    """Where the road network comes from and how it is prepared."""

    source: Literal["file", "place", "polygon"] = "file"
    #: OSM extract (``.osm.pbf``, ``.osm`` or ``.osm.bz2``) when ``source="file"``.
    osm_file: str | None = None
    #: Place name geocoded by OSMnx when ``source="place"``.
    place: str | None = None
    #: City boundary (any vector file); the graph is clipped to it plus ``buffer_m``.
    #: With ``source="polygon"`` OSMnx downloads the roads inside it.
    boundary: str | None = None
    buffer_m: Metres = 1000.0
    #: Per-highway-class speeds (km/h) overriding :data:`settings.HIGHWAY_SPEEDS_KPH`.
    speeds_kph: dict[str, Speed] = Field(default_factory=dict)
    fallback_speed_kph: Speed = settings.FALLBACK_SPEED_KPH
    #: Read and write the caches of the graph, demand layers and travel times.
    cache: bool = True
    #: Overpass and Nominatim endpoints for online sources (default: OSMnx's public ones).
    overpass_url: str | None = None
    nominatim_url: str | None = None
    #: Timeout of each download request, seconds.
    timeout_s: Annotated[float, Field(gt=0.0, le=settings.MAX_TIMEOUT_S)] = 180.0

    @model_validator(mode="after")
    def _source_has_its_input(self) -> NetworkConfig:
        needed = {"file": "osm_file", "place": "place", "polygon": "boundary"}[self.source]
        if getattr(self, needed) in (None, ""):
            raise ValueError(f"network.source = {self.source!r} needs network.{needed}")
        return self


class SegmentConfig(_Strict):
    """Behaviour of one demand segment (user group), and the standards a plan owes it
    (see :class:`siting.segments.Segment`).

    ``ev_share`` left out takes the value of the adoption preset. The standards are
    optional: without them every group is held to ``optimize.threshold_min``, may use
    every design its charger allows, and weighs 1.
    """

    count: Annotated[float, Field(ge=0.0, le=settings.MAX_VEHICLES)]
    ev_share: Share | None = None
    public_share: Share
    sessions_per_ev_day: Annotated[float, Field(ge=0.0, le=settings.MAX_SESSIONS_PER_DAY)]
    kwh_per_session: Annotated[float, Field(ge=0.0, le=settings.MAX_KWH_PER_SESSION)]
    charger: Literal["AC", "DC"] = "AC"
    #: Longest acceptable drive to a station (minutes; at most ``travel.cutoff_min``);
    #: ``None``: ``optimize.threshold_min``.
    max_trip_min: Minutes | None = None
    #: Names of the designs (``[[optimize.designs]]``, else the defaults ``AC``/``DC``)
    #: the group can use; ``None``: every design its charger allows.
    designs: list[str] | None = None
    #: Share of the group's demand every plan must serve.
    min_served_share: Share = 0.0
    #: Weight of the group's sessions in the objective (bounded like a stage's weight,
    #: :data:`siting.settings.MAX_STAGE_WEIGHT`: larger ones only swamp the others).
    weight: Annotated[float, Field(ge=0.0, le=settings.MAX_STAGE_WEIGHT)] = 1.0
    #: Most power (kW) the group's cars accept per charger type; a type left out: no limit.
    car_kw: dict[Literal["AC", "DC"], Kilowatts] = Field(default_factory=dict)


class InboundConfig(SegmentConfig):
    """Inbound vehicles: destination charging by jobs, part at entry corridors."""

    corridor_share: Share = 0.0


class TaxiConfig(SegmentConfig):
    """Taxis: fast charging, partly by jobs and partly at taxi hubs."""

    jobs_weight: Share = 0.5
    charger: Literal["AC", "DC"] = "DC"


class DemandConfig(_Strict):
    """How demand points are made and weighted."""

    h3_resolution: Annotated[int, Field(ge=5, le=11)] = 8
    #: Adoption preset (EV share per segment) from ``presets_file``.
    preset: str = "today"
    presets_file: str = "{siting_data}/adoption.toml"
    #: Population layer: polygons or points with a numeric column; omit both to use
    #: OSM proxies (buildings, residential land use).
    population: str | None = None
    population_column: str | None = None
    #: Jobs layer, as above; omit to use OSM proxies (shops, offices, amenities).
    jobs: str | None = None
    jobs_column: str | None = None
    #: District polygons with a name column; demand is reported per district.
    districts: str | None = None
    district_column: str = "name"
    #: CSV of official district totals (columns ``district``, ``population``):
    #: the population pattern is rescaled so that district sums match it.
    district_totals: str | None = None
    #: Share of a day's public charging energy drawn in the busiest hour.
    peak_hour_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    residents: SegmentConfig | None = None
    inbound: InboundConfig | None = None
    taxis: TaxiConfig | None = None

    @model_validator(mode="after")
    def _layers_have_columns(self) -> DemandConfig:
        for layer in ("population", "jobs"):
            if (getattr(self, layer) is None) != (getattr(self, f"{layer}_column") is None):
                raise ValueError(f"demand.{layer} and demand.{layer}_column go together")
        if not (self.residents or self.inbound or self.taxis):
            raise ValueError("demand needs at least one segment: residents, inbound or taxis")
        return self


class CandidatesConfig(_Strict):
    """Where a station can stand."""

    osm_features: bool = True
    #: Spacing of the road-node grid in metres; 0 turns the grid off.
    grid_spacing_m: Metres = 1000.0
    #: A feature farther than this from the road graph is dropped (metres).
    snap_max_m: PositiveMetres = 300.0
    #: Existing stations (CSV with lat/lon, GeoJSON, or Open Charge Map JSON); kept in
    #: every plan.
    existing: str | None = None
    #: Also take ``amenity=charging_station`` from the OSM extract.
    existing_osm: bool = True
    #: Open Charge Map API (``https://api.openchargemap.io/v3/poi``) for the stations in
    #: the city's bounding box; its key (or the ``OCM_API_KEY`` environment variable).
    existing_ocm_url: str | None = None
    existing_ocm_key: str | None = None
    #: Stations known to operate by an official count (shown against those known).
    existing_reported: Annotated[int, Field(ge=0, le=settings.MAX_STATIONS)] | None = None
    #: Where ``existing_reported`` comes from.
    existing_reported_source: str = ""
    #: Extra capital cost of building at a site (land, grid connection, works): a CSV
    #: with columns ``lat``, ``lon``, ``cost`` (``[costs]`` currency) and optional
    #: ``note``, each row for the candidate nearest to its point within ``snap_max_m``
    #: (read by :func:`siting.designs.read_site_costs`).
    site_costs: str | None = None
    #: Sites every plan builds (each pays its cost; its design is the plan's choice) and
    #: sites no plan builds: site ids (``candidates.geojson``), OSM ids or "lat,lon"
    #: points (the nearest candidate within ``snap_max_m``). Capacitated model.
    force: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    exclude: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    #: A polygon file (GeoJSON, GeoPackage; e.g. protected areas): no plan builds
    #: inside it.
    exclude_areas: str | None = None
    #: CSV files of sites to force in or keep out (a ``site_id`` column, or ``lat`` and
    #: ``lon``), added to ``force`` and ``exclude``.
    force_file: str | None = None
    exclude_file: str | None = None

    @field_validator("grid_spacing_m")
    @classmethod
    def _grid_off_or_coarse(cls, value: float) -> float:
        if 0.0 < value < settings.MIN_GRID_SPACING_M:
            raise ValueError(f"expected 0 (no grid) or at least {settings.MIN_GRID_SPACING_M:g} m")
        return value


class TravelConfig(_Strict):
    """Travel-time matrix settings."""

    cutoff_min: Minutes = 30.0
    connector_speed_kph: Speed = settings.CONNECTOR_SPEED_KPH
