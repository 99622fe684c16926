"""The result of a model's solve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siting.optimize import _solvers


@dataclass
class SolveResult:
    """Outcome of a model's ``solve``.

    Attributes
    ----------
    selected
        Indices of the chosen candidate sites, ascending.
    objective
        Objective value of the plan (the model's units).
    bound
        Best bound the solver proved on the objective (None if not reported).
    gap
        Relative gap between ``objective`` and ``bound``.
    status
        ``"optimal"`` (proven within ``gap_tolerance``) or ``"feasible"``.
    """

    model: str
    selected: np.ndarray
    objective: float
    bound: float | None
    gap: float | None
    status: str
    solver: str
    solve_s: float
    build_s: float
    gap_tolerance: float
    stopped_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_info(
        cls,
        model: str,
        selected: np.ndarray,
        info: _solvers.SolveInfo,
        build_s: float,
        extra: dict[str, Any],
        **overrides: Any,
    ) -> SolveResult:
        """A result from the solver's report (:class:`siting.optimize._solvers.SolveInfo`);
        ``overrides`` replace fields the model knows better (e.g. a bound of its own)."""
        fields: dict[str, Any] = {
            "objective": info.objective,
            "bound": info.bound,
            "gap": info.gap,
            "status": info.status,
            "solver": info.solver,
            "solve_s": info.seconds,
            "gap_tolerance": info.gap_tolerance,
            "stopped_by": info.stopped_by,
        }
        return cls(
            model=model, selected=selected, build_s=build_s, extra=extra, **{**fields, **overrides}
        )

    @property
    def proven_optimal(self) -> bool:
        """True only when the solver proved optimality (within the tolerance)."""
        return self.status == "optimal"

    def describe(self) -> str:
        """Short status label, e.g. ``feasible, gap 0.80% (time limit)``."""
        info = _solvers.SolveInfo(
            self.status,
            self.objective,
            self.bound,
            self.gap,
            self.solver,
            self.solve_s,
            self.gap_tolerance,
            self.stopped_by,
        )
        return info.describe()
