"""How many of a plan's new stations pay back within their lease in another future
(``[futures]`` with ``[economics]``).

In the run's own future a station's sessions are the plan's assignment (as in
``sites.csv``). In a future with other demand the plan's stations are fixed and serve
what the assignment program with every station fixed gives: the most sessions with
each group served its share under the scenario's ``optimize.segment_equity``, as the
run's own loads are (the share served reported beside it is
:func:`siting.optimize.futures.robust.plan_share`'s, without equity, as before);
in a future that changes only ``[economics]`` figures the stations serve what they
serve in the run, and only their economics change. Each new station then pays back
or not by :func:`siting.economics.station_economics` at the future's terms.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from siting.economics import plan_flows, station_economics, viable_count
from siting.optimize import CapacitatedCoverage
from siting.scenario import Scenario
from siting.segments import Segment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanFigures:
    """What the run's plan serves in one future, and its new stations' economics there."""

    share: float
    #: kWh/day of each station (positions of ``selected``) and the stations' site indices
    kwh_day: np.ndarray
    selected: np.ndarray


def plan_figures(
    points: pd.DataFrame,
    segments: Mapping[str, Segment],
    extra: Mapping[str, Any],
    selected: np.ndarray,
    share: float,
) -> PlanFigures:
    """A solved plan's share and each station's kWh a day (from its assignment)."""
    flows = plan_flows(points, segments, extra, n_stations=len(selected))
    return PlanFigures(share, flows["kwh_day"].to_numpy(float), np.asarray(selected, np.int64))


def plan_in_future(
    model: CapacitatedCoverage,
    selected: np.ndarray,
    types: np.ndarray,
    *,
    points: pd.DataFrame,
    segments: Mapping[str, Segment],
    solver: str | None,
) -> PlanFigures:
    """The plan ``selected`` (of designs ``types``) in the future of ``model``: the
    share of its demand served with every station fixed (as
    :func:`~siting.optimize.futures.robust.plan_share` measures it, group equity not
    held), and each station's kWh a day under the scenario's group equity
    (``optimize.segment_equity``, as the run's own loads are: always within reach of
    fixed stations, by serving less); ``points`` and ``segments``: the future's demand.
    """
    total = float(model.demand.sum())
    if not len(selected) or total <= 0:
        empty = np.zeros(len(selected))
        return PlanFigures(0.0 if total > 0 else 1.0, empty, np.asarray(selected, np.int64))
    fixed = model.with_plan(selected, [str(t) for t in types])
    res = fixed.solve(solver, gap=0.0)
    share = float(res.extra["served_by_class"].sum()) / total
    if model.class_equity > 0:
        fixed.class_equity = model.class_equity  # the loads as the run's standard shares them
        res = fixed.solve(solver, gap=0.0)
    return plan_figures(points, segments, res.extra, res.selected, share)


def viability(
    sc: Scenario,
    figures: PlanFigures,
    *,
    capital_of: Mapping[int, float],
    existing: np.ndarray,
) -> dict[str, Any] | None:
    """The new stations of ``figures`` that pay back within the lease at ``sc``'s
    ``[economics]`` (``None`` without it): how many, of how many, the capital at
    risk in the others, revenue a year and energy a day of all stations.

    ``capital_of`` maps a site index to its capital cost (the run's plan prices it);
    ``existing`` flags the existing sites among all candidates."""
    ec = sc.economics
    if ec is None:
        return None
    sel = figures.selected
    capital = np.array([float(capital_of.get(int(j), 0.0)) for j in sel], dtype=float)
    old = np.asarray(existing, dtype=bool)[sel]
    table = station_economics(figures.kwh_day, capital, old, ec)
    paying, n_new, _, at_risk = viable_count(table.assign(capital=capital), old)
    return {
        "viable": paying,
        "stations_new": n_new,
        "capital_at_risk": round(at_risk, 2),
        "revenue_year": round(float(table["revenue_year"].sum()), 2),
        "energy_kwh_day": round(float(figures.kwh_day.sum()), 1),
    }
