"""A plan that holds up across futures: the most served share in the worst (or the
mean) of several demands, and each plan's share in every future."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pulp

from siting._clock import time_left
from siting.errors import InfeasibleError, InputError
from siting.optimize import _solvers
from siting.optimize._checks import as_real, shown
from siting.optimize.capacitated import _rows
from siting.optimize.capacitated.model import CapacitatedCoverage
from siting.optimize.futures.staged import _Prefixed
from siting.optimize.options import SolveOptions


@dataclass
class RobustResult:
    """The robust plan, its share served in each future, and how sure it is."""

    selected: np.ndarray
    types: np.ndarray
    shares: np.ndarray  # share of each future's demand served
    objective: float
    bound: float | None
    gap: float | None
    status: str
    stopped_by: str | None
    seconds: float


class RobustPlan:
    r"""One plan of ``p`` stations for every future: the best worst (or mean) share.

    With futures :math:`f = 1..F`, each with its demand :math:`D_f` (sessions/day)
    and the rows of :class:`~siting.optimize.CapacitatedCoverage` for it (its own
    assignment :math:`u^f, v^f`, capacities and DC rows), on one set of stations
    :math:`y`:

    .. math::

        \max \eta \quad\text{s.t.}\quad
        \eta \le \frac{1}{D_f} \sum_i \sum_{j \in N_i} (a^f_i u^f_{ij} + d^f_i v^f_{ij})
        \;\; \forall f

    (``criterion="worst"``), or :math:`\max \frac1F \sum_f` of the same shares
    (``"mean"``), or the ``quantile`` :math:`q` of the shares (``"quantile"``): with
    binary :math:`z_f` (future *f* counts), :math:`\eta \le s_f + 1 - z_f` and
    :math:`\sum_f z_f \ge \lceil (1 - q) F \rceil`, so that share is met in all but
    the :math:`q` share of the futures (:math:`q = 0`: the worst case). The station
    rows (count, existing sites, budget) are the first future's; every future must
    have the same sites and neighbours.
    """

    name = "robust"

    def __init__(
        self,
        models: Sequence[CapacitatedCoverage],
        *,
        criterion: Literal["worst", "mean", "quantile"] = "worst",
        quantile: float = 0.0,
    ) -> None:
        if not models:
            raise InputError("futures: expected at least one future, got none")
        if criterion not in ("worst", "mean", "quantile"):
            raise InputError(
                f"futures.criterion: expected 'worst', 'mean' or 'quantile', got {criterion!r}"
            )
        q = as_real(quantile)
        if q is None or not 0.0 <= q < 1.0:
            raise InputError(f"futures.quantile: expected a share in [0, 1), got {shown(quantile)}")
        for k, m in enumerate(models):
            if not isinstance(m, CapacitatedCoverage):
                raise InputError(
                    f"futures[{k}]: expected a CapacitatedCoverage model, got {type(m).__name__}"
                )
        shape = models[0].neighbours.shape
        for k, m in enumerate(models):
            if m.neighbours.shape != shape or m.p != models[0].p:
                raise InputError(
                    f"futures[{k}]: expected the first future's sites and p ({shape}, "
                    f"{models[0].p}), got {m.neighbours.shape} and {m.p}"
                )
        self.models = list(models)
        self.criterion = criterion
        self.quantile = float(quantile)

    def solve(
        self,
        solver: str | SolveOptions | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> RobustResult:
        """Solve with HiGHS (default) or CBC; stopped by ``time_limit``: ``feasible``."""
        o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        t0 = time.perf_counter()
        prob = pulp.LpProblem(self.name, pulp.LpMaximize)
        first = self.models[0]
        types, y, _ = _rows.site_rows(first, prob, at_most=first.budget is not None)
        served = []
        for k, model in enumerate(self.models):
            _, terms, _ = _rows.assignment_rows(model, _Prefixed(prob, f"f{k}_"), y, types)
            total = float(model.demand.sum())
            served.append([(x, c / total) for x, c in terms] if total > 0 else [])
        if self.criterion in ("worst", "quantile"):
            eta = prob.add_variable("eta", lowBound=0, upBound=1)
            counts = [
                prob.add_variable(f"z_{k}", lowBound=0, upBound=1, cat=pulp.LpInteger)
                if self.criterion == "quantile"
                else None
                for k in range(len(served))
            ]
            for k, (terms, z) in enumerate(zip(served, counts, strict=True)):
                # s_f - eta >= 0, or >= -(1 - z_f) when the future may be left out
                relax = [(z, -1.0)] if z is not None else []
                prob += pulp.LpConstraint(
                    pulp.LpAffineExpression([*terms, (eta, -1.0), *relax]),
                    pulp.LpConstraintGE,
                    f"worst_{k}",
                    (0.0 if terms else -1.0) - (1.0 if z is not None else 0.0),
                )
            if self.criterion == "quantile":
                need = math.ceil((1.0 - self.quantile) * len(served) - 1e-9)
                prob += pulp.LpConstraint(
                    pulp.LpAffineExpression([(z, 1.0) for z in counts if z is not None]),
                    pulp.LpConstraintGE,
                    "futures_counted",
                    float(need),
                )
            prob += pulp.LpAffineExpression([(eta, 1.0)])
        else:
            n = len(served)
            prob += pulp.LpAffineExpression([(x, c / n) for terms in served for x, c in terms])
        left = time_left(o.time_limit, time.perf_counter() - t0)
        info = _solvers.run(prob, o.but(time_limit=left))
        if info.status == "infeasible" or info.objective is None:
            raise InfeasibleError("futures: no plan meets the station count and existing sites")
        n_s = first.neighbours.shape[1]
        site_type = _rows.chosen_types(y, n_s)
        selected = np.flatnonzero(site_type != "")
        chosen = site_type[selected].astype(str)
        # the worst case leaves the other futures' assignment loose: each future's
        # share is what the stations serve there at best
        shares = np.array([plan_share(m, selected, chosen, solver=o.solver) for m in self.models])
        return RobustResult(
            selected,
            chosen,
            shares,
            float(info.objective),
            info.bound,
            info.gap,
            info.status,
            info.stopped_by,
            time.perf_counter() - t0,
        )


def plan_share(
    model: CapacitatedCoverage,
    selected: np.ndarray,
    types: np.ndarray,
    *,
    solver: str | None = None,
) -> float:
    """Share of ``model``'s demand the stations ``selected`` (of ``types``) serve:
    the assignment program with every station fixed and of its type."""
    total = float(model.demand.sum())
    if total <= 0 or not len(selected):
        return 0.0 if total > 0 else 1.0
    fixed = model.with_plan(selected, [str(t) for t in types])
    res = fixed.solve(solver, gap=0.0)
    return float(res.extra["served_by_class"].sum()) / total
