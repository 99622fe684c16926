"""What a run builds and computes: :class:`Inputs` and :class:`RunResult`.

Plain containers, apart from the stages so that the stages and the writers
(:mod:`siting.report`, :mod:`siting.compare`) can name them without importing
:mod:`siting.pipeline`; :mod:`siting.pipeline` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import pandas as pd

from siting._geo import NodeIndex
from siting.optimize import SolveResult
from siting.scenario import Scenario
from siting.travel import TravelTimes


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
