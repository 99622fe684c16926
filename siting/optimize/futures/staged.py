"""Multi-year staging: stations added stage by stage, never removed, on growing demand.

One integer program for all the stages (:class:`StagedPlan`), and what planning
stage by stage costs each stage against planning it alone (its regret).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pulp

from siting._clock import time_left
from siting.errors import InfeasibleError, InputError
from siting.optimize import _solvers
from siting.optimize._checks import check_number
from siting.optimize.capacitated import _rows, _solve
from siting.optimize.capacitated.model import CapacitatedCoverage
from siting.optimize.options import SolveOptions


@dataclass
class Stage:
    """One stage of a staged plan: its plan, what it serves and what it adds."""

    label: str
    p: int
    weight: float
    selected: np.ndarray
    types: np.ndarray
    served: float
    demand: float
    capital_cost: float
    added: int


@dataclass
class StagedResult:
    """The staged plan: every stage, when each site is built, and how sure it is."""

    stages: list[Stage]
    built: dict[int, int]  # site -> index of the stage that builds it
    objective: float
    bound: float | None
    gap: float | None
    status: str
    stopped_by: str | None
    solver: str
    seconds: float


class _Prefixed:
    """A PuLP problem whose new variables and rows get a stage's prefix, so the rows
    of one stage's model can be built into a problem holding every stage."""

    def __init__(self, prob: pulp.LpProblem, prefix: str) -> None:
        self.prob = prob
        self.prefix = prefix

    def add_variable(self, name: str, *args: Any, **kwargs: Any) -> pulp.LpVariable:
        return self.prob.add_variable(self.prefix + name, *args, **kwargs)

    def __iadd__(self, other: Any) -> _Prefixed:
        if isinstance(other, pulp.LpConstraint) and other.name:
            other.name = self.prefix + other.name
        self.prob += other
        return self


class StagedPlan:
    r"""Stations added stage by stage for each stage's demand, never removed.

    With :math:`t = 1..T` the stages, each with its own demand and station count
    :math:`p_t` (or budget), and every stage holding the rows of
    :class:`~siting.optimize.CapacitatedCoverage` for its demand
    (:math:`u^t, v^t, y^t`):

    .. math::

        \max \sum_t \omega_t \sum_i \sum_{j \in N_i} (a^t_i u^t_{ij} + d^t_i v^t_{ij})
        \quad\text{s.t.}\quad y^{\tau,t}_j \ge y^{\tau,t-1}_j
        \;\; \forall j, \tau, t > 1,

    so a station built at a stage stays, of its type, at every later one. The
    weights :math:`\omega_t` are the scenario's (or a discount rate's); the stage
    that builds a site is the first whose plan holds it.

    Parameters
    ----------
    models
        One capacitated model per stage, on the same sites and neighbours (their
        demand, ``p``, budget and existing sites their own).
    weights
        :math:`\omega_t`, non-negative.
    labels
        The stages' names (years).
    """

    name = "staged"

    def __init__(
        self,
        models: Sequence[CapacitatedCoverage],
        weights: Sequence[float],
        labels: Sequence[str],
    ) -> None:
        if not models:
            raise InputError("optimize.stages: expected at least one stage, got none")
        if not len(models) == len(weights) == len(labels):
            raise InputError("optimize.stages: expected one weight and one label per stage")
        for k, m in enumerate(models):
            if not isinstance(m, CapacitatedCoverage):
                raise InputError(
                    f"optimize.stages[{k}]: expected a CapacitatedCoverage model, got "
                    f"{type(m).__name__}"
                )
        shape = models[0].neighbours.shape
        for k, m in enumerate(models):
            if m.neighbours.shape != shape:
                raise InputError(
                    f"optimize.stages[{k}]: expected the sites of the first stage {shape}, "
                    f"got {m.neighbours.shape}"
                )
            if k and m.p < models[k - 1].p:
                raise InfeasibleError(
                    f"optimize.stages[{k}].p: stations are never removed, so a stage needs "
                    f"at least the previous stage's {models[k - 1].p}, got {m.p}"
                )
        self.weights = [
            check_number(w, f"optimize.stages[{k}].weight", at_least=0.0)
            for k, w in enumerate(weights)
        ]
        self.models = list(models)
        self.labels = [str(s) for s in labels]

    def build(
        self,
    ) -> tuple[
        pulp.LpProblem,
        list[dict[str, list[pulp.LpVariable]]],
        list[dict[str, Any]],
        list[list[tuple[pulp.LpVariable, float]]],
    ]:
        """The problem of every stage; each stage's site variables, assignment
        variables and served terms."""
        prob = pulp.LpProblem(self.name, pulp.LpMaximize)
        ys, assigns, served = [], [], []
        for k, model in enumerate(self.models):
            part = _Prefixed(prob, f"s{k}_")
            at_most = model.budget is not None
            types, y, _ = _rows.site_rows(model, part, at_most=at_most)
            assign, objective, _ = _rows.assignment_rows(model, part, y, types)
            ys.append(y)
            assigns.append(assign)
            served.append(objective)
        for k in range(1, len(ys)):
            for t, vs in ys[k - 1].items():
                for j, before in enumerate(vs):
                    now = ys[k].get(t)
                    if now is None:
                        raise InputError(f"optimize.stages[{k}]: station type {t} not allowed")
                    prob += pulp.LpConstraint(
                        pulp.LpAffineExpression([(now[j], 1.0), (before, -1.0)]),
                        pulp.LpConstraintGE,
                        f"keep_{k}_{t}_{j}",
                        0.0,
                    )
        prob += pulp.LpAffineExpression(
            [(x, w * c) for w, terms in zip(self.weights, served, strict=True) for x, c in terms]
        )
        return prob, ys, assigns, served

    def start(self) -> list[dict[str, Any]]:
        """A nested warm start: each stage's greedy plan keeping the stations (and
        designs) of the stage before."""
        out: list[dict[str, Any]] = []
        kept: dict[int, str] = {}
        for model in self.models:
            m = model
            if kept:
                m = copy.copy(model)
                m.fixed = np.union1d(model.fixed, np.fromiter(kept, dtype=np.int64))
                m.fixed_set = set(m.fixed.tolist())
                m.site_design = {
                    **model.site_design,
                    **{
                        j: dataclasses.replace(model.design_at(j, t), sites=frozenset([j]))
                        for j, t in kept.items()
                    },
                }
            plan = m.greedy(hold_equity=True)
            kept = dict(plan["types"])
            out.append(plan)
        return out

    def solve(
        self,
        solver: str | SolveOptions | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> StagedResult:
        """Solve with HiGHS (default) or CBC; a solve stopped by ``time_limit`` is
        ``feasible`` with its gap."""
        o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        t0 = time.perf_counter()
        prob, ys, assigns, _ = self.build()
        for model, y, assign, start in zip(self.models, ys, assigns, self.start(), strict=True):
            _rows.warm(model, y, assign, start)
        left = time_left(o.time_limit, time.perf_counter() - t0)
        info = _solvers.run(prob, o.but(time_limit=left))
        if info.status == "infeasible" or info.objective is None:
            raise InfeasibleError(
                "optimize.stages: no staged plan meets every stage's station count, budget "
                "and existing stations"
            )
        stages: list[Stage] = []
        built: dict[int, int] = {}
        for k, (model, y) in enumerate(zip(self.models, ys, strict=True)):
            n_s = model.neighbours.shape[1]
            site_type = _rows.chosen_types(y, n_s)
            selected = np.flatnonzero(site_type != "")
            for j in selected.tolist():
                built.setdefault(j, k)
            cost = sum(model.cost_of(j, str(site_type[j])) for j in selected.tolist())
            stages.append(
                Stage(
                    self.labels[k],
                    model.p,
                    self.weights[k],
                    selected,
                    site_type[selected].astype(str),
                    _solve.served_value(model, assigns[k]),
                    float(model.demand.sum()),
                    float(cost),
                    int(sum(1 for j in selected.tolist() if built[j] == k)),
                )
            )
        return StagedResult(
            stages,
            built,
            float(info.objective),
            info.bound,
            info.gap,
            info.status,
            info.stopped_by,
            info.solver,
            time.perf_counter() - t0,
        )


def stage_regret(
    plan: StagedPlan,
    result: StagedResult,
    *,
    solver: str | SolveOptions | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Each stage planned alone (its own count, the existing sites only kept), and
    the share of that stage's served demand the staged plan gives up.

    The regret is measured against the better of the two plans of the stage, so a
    stage alone stopped short of its optimum never makes it negative. The options
    are those of :meth:`StagedPlan.solve` (``solver`` may be a
    :class:`~siting.optimize.SolveOptions`), used by every stage's solve.
    """
    o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads)
    rows = []
    for model, stage in zip(plan.models, result.stages, strict=True):
        alone = model.solve(o)
        best = max(alone.objective, stage.served)
        rows.append(
            {
                "stage": stage.label,
                "served_staged": stage.served,
                "served_alone": alone.objective,
                "alone_status": alone.status,
                "regret": (best - stage.served) / best if best > 0 else 0.0,
                "sites_shared": int(np.isin(stage.selected, alone.selected).sum()),
            }
        )
    return rows
