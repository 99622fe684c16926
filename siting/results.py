"""What a run builds and computes: :class:`Inputs`, :class:`Decision` and :class:`RunResult`.

Plain containers, apart from the stages so that the stages and the writers
(:mod:`siting.report`, :mod:`siting.compare`) can name them without importing
:mod:`siting.pipeline` or one another; :mod:`siting.pipeline` and the stages make them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import pandas as pd

from siting._geo import NodeIndex
from siting.optimize.nested import Phase
from siting.optimize.result import SolveResult
from siting.scenario import Scenario
from siting.travel import TravelTimes


@dataclass(frozen=True)
class FrontierPoint:
    """One solved point of the cost frontier: its budget or number of new DC stations,
    its plan (see :mod:`siting.frontier`)."""

    budget: float | None
    result: SolveResult
    max_dc: int | None = None  # the number of new DC stations (None: the budget point)

    @property
    def served(self) -> float:
        return float(self.result.objective)

    @property
    def cost(self) -> float:
        return float(self.result.extra.get("cost", 0.0))


@dataclass
class Decision:
    """What the plan stage (:func:`siting.planning.planning_stage`) decided."""

    result: SolveResult
    alone: dict[int, SolveResult]
    phases: list[Phase] | None
    capacity: dict[str, float]
    costs: dict[str, float]
    frontier: list[FrontierPoint] | None = None
    chosen: int | None = None
    site_capacity: dict[int, tuple[str, float]] = field(default_factory=dict)
    minimum: list[dict[str, Any]] = field(default_factory=list)
    reach: dict[str, Any] = field(default_factory=dict)
    staging: dict[str, Any] | None = None
    #: with station designs: per design its charger, ports, kW per port, cost, the
    #: groups it serves, its hours per session and port-hours, its source
    designs: dict[str, dict[str, Any]] | None = None
    #: with forced or excluded sites: the plan against the free optimum (see
    #: :func:`siting.planning.decide`)
    controls: dict[str, Any] | None = None


@dataclass
class RunResult:
    """Everything a run computed."""

    scenario: Scenario
    graph: nx.MultiDiGraph
    demand: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    travel: TravelTimes
    result: SolveResult
    sites: gpd.GeoDataFrame
    kpis: dict[str, Any]
    per_district: pd.DataFrame
    per_demand: pd.DataFrame
    districts: gpd.GeoDataFrame | None
    map: folium.Map
    served_areas: gpd.GeoDataFrame
    curve: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Inputs:
    """What a run builds before its demand figures and optimisation: road graph,
    demand layers on the cells, candidate sites and travel times.

    Scenarios that differ only in adoption, segment behaviour or the optimisation
    request share one :class:`Inputs` (see :func:`inputs_key`); sweeps build it
    once and hand it to every such scenario.
    """

    key: str
    graph: nx.MultiDiGraph
    index: NodeIndex
    area: Any
    districts: gpd.GeoDataFrame | None
    cells: gpd.GeoDataFrame
    parts: gpd.GeoDataFrame
    metric_crs: Any
    jobs: Any
    hubs: Any
    corridors: Any
    candidates: gpd.GeoDataFrame
    travel: TravelTimes
    stamps: dict[str, Any]
    timings: dict[str, float]
