"""Private helpers of the models' ``from_inputs`` constructors: what a run has,
turned into the options every model shares (existing sites, side constraints)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from siting.optimize._side import close_pairs

if TYPE_CHECKING:
    from siting.demand import Demand
    from siting.results import Inputs
    from siting.sections import OptimizeConfig


def existing_sites(inputs: Inputs) -> np.ndarray:
    """Positions of the existing stations among the candidates (kept in every plan)."""
    return np.flatnonzero(inputs.candidates["existing"].to_numpy())


def side_options(inputs: Inputs, demand: Demand, oc: OptimizeConfig) -> dict[str, Any]:
    """The side constraints ``oc`` asks for: spacing pairs and equity groups."""
    cand = inputs.candidates
    pairs = None
    if oc.min_spacing_m > 0:
        xy = inputs.index.to_metric(cand["lon"].to_numpy(), cand["lat"].to_numpy())
        pairs = close_pairs(xy, oc.min_spacing_m)
    return {
        "spacing_pairs": pairs,
        "equity_share": oc.equity_share,
        "groups": demand.points["district"].to_numpy() if oc.equity_share > 0 else None,
    }


def single_type_options(
    inputs: Inputs,
    demand: Demand,
    oc: OptimizeConfig,
    *,
    station_cost: Mapping[str, float] | None,
    fixed: np.ndarray | None,
    budget: float | None,
) -> dict[str, Any]:
    """Options of the one-station-type models (covering, p-median): existing sites,
    side constraints and a budget that prices every new station as an AC one."""
    return {
        "fixed": existing_sites(inputs) if fixed is None else fixed,
        "budget": budget,
        "site_cost": (station_cost or {}).get("AC", 0.0),
        **side_options(inputs, demand, oc),
    }
