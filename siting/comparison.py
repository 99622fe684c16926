"""What a comparison of plans holds: each run's outputs read back and the runs lined up.

:class:`RunOutputs` is one run's tables (:func:`siting.compare.load_run` reads them from
a folder, :meth:`RunOutputs.from_result` takes them from a run in memory);
:class:`Comparison` is the runs lined up (:func:`siting.compare.compare_runs` builds it,
:mod:`siting.compare_views` shows it). Both are exported from :mod:`siting.compare`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from siting._io import json_default

if TYPE_CHECKING:
    from siting.results import RunResult


@dataclass
class RunOutputs:
    """What one run wrote, read back."""

    name: str
    folder: Path
    kpis: dict[str, Any]
    sites: pd.DataFrame
    districts: pd.DataFrame
    demand: pd.DataFrame
    district_shapes: gpd.GeoDataFrame | None

    @classmethod
    def from_result(cls, run: RunResult, *, name: str | None = None) -> RunOutputs:
        """The same tables from a run in memory (:func:`siting.pipeline.plan`), unwritten."""
        from siting import report

        kpis = json.loads(json.dumps(run.kpis, default=json_default))
        return cls(
            name or run.scenario.name,
            Path(),
            kpis,
            pd.DataFrame(report.site_table(run).drop(columns="geometry")),
            run.per_district.copy(),
            report.demand_table(run),
            report.district_layer(run),
        )


@dataclass
class Comparison:
    """Plans lined up.

    Attributes
    ----------
    runs
        The runs, in the order given.
    summary
        One row per figure, one column per run.
    districts
        One row per district; columns ``<figure> [<run>]`` for the demand, share
        served, share within the threshold and stations of each run.
    stations
        One row per distinct station location: lat, lon, kind, name, the site id
        in each run (empty where absent), ``in [<run>]`` flags and ``membership``
        (``all``, ``only <run>`` or the runs it is in, joined by ``+``).
    """

    runs: list[RunOutputs]
    summary: pd.DataFrame
    districts: pd.DataFrame
    stations: pd.DataFrame

    @property
    def names(self) -> list[str]:
        """Run names, in order."""
        return [r.name for r in self.runs]

    def membership_counts(self) -> dict[str, int]:
        """Number of stations per membership (``all``, ``only <run>``, ...)."""
        counts = self.stations["membership"].value_counts()
        order = ["all", *[f"only {n}" for n in self.names]]
        keys = [k for k in order if k in counts.index] + sorted(set(counts.index) - set(order))
        return {k: int(counts[k]) for k in keys}
