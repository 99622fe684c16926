"""Which class answers each ``optimize.model``: the one place a new model is named.

A plan model builds itself from what a run has (:meth:`PlanModel.from_inputs`) and
solves with the one ``solve(solver, *, time_limit, gap, threads)`` signature; the
optimise stage (:mod:`siting.planning`) knows nothing else about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from siting.errors import InputError
from siting.optimize.capacitated.model import CapacitatedCoverage
from siting.optimize.covering.model import MaximalCovering
from siting.optimize.pmedian.model import PMedian
from siting.optimize.result import SolveResult

if TYPE_CHECKING:
    from siting.demand import Demand
    from siting.results import Inputs
    from siting.sections import OptimizeConfig


class PlanModel(Protocol):
    """What the optimise stage asks of a model class and its instances."""

    @classmethod
    def from_inputs(
        cls,
        inputs: Inputs,
        demand: Demand,
        optimize_config: OptimizeConfig,
        *,
        station_cost: Mapping[str, float] | None = None,
        p: int | None = None,
        fixed: np.ndarray | None = None,
        budget: float | None = None,
        secondary: bool | str | None = None,
    ) -> PlanModel: ...

    def solve(
        self,
        solver: str | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> SolveResult: ...


#: ``optimize.model`` → its class. Add a model here (and to the scenario's choices).
MODELS: dict[str, Any] = {
    "mclp": MaximalCovering,
    "pmedian": PMedian,
    "capacitated": CapacitatedCoverage,
}


def model_class(name: str) -> type[PlanModel]:
    """The class of ``optimize.model = name``."""
    try:
        cls: type[PlanModel] = MODELS[name]
    except KeyError:
        raise InputError(
            f"optimize.model: expected one of {', '.join(MODELS)}, got {name!r}"
        ) from None
    return cls
