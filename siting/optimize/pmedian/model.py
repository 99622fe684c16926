"""The p-median model."""

from __future__ import annotations

import logging
import time
from typing import Any

import geopandas as gpd
import numpy as np
import pulp
import scipy.sparse as sp

from siting.errors import InfeasibleError, InputError
from siting.optimize._checks import _fixed_sites, check_count, check_number, check_p, check_values
from siting.optimize._common import _cost_rows, _layer_distances, _site_variables
from siting.optimize._side import _SideConstraints
from siting.optimize._types import DriveTimes
from siting.optimize.options import SolveOptions
from siting.optimize.pmedian import _heuristics, _lagrangian, _solve
from siting.optimize.result import SolveResult

log = logging.getLogger(__name__)


class PMedian(_SideConstraints):
    r"""p-median: minimise the demand-weighted cost (e.g. access time) of serving demand.

    Radius formulation of Elloumi (2010), written as a chain per demand point. For
    point :math:`i`, let :math:`D_i^1 < D_i^2 < \dots < D_i^{K_i}` be the distinct
    costs of its allowed sites and :math:`z_i^k = 1` when :math:`i` is served at a
    cost above :math:`D_i^k`:

    .. math::

        \min \sum_i w_i \Big( D_i^1 + \sum_{k=1}^{K_i - 1} (D_i^{k+1} - D_i^k)\, z_i^k
        + (U - D_i^{K_i})\, z_i^{K_i} \Big)

    .. math::

        z_i^1 + \sum_{j: c_{ij} = D_i^1} y_j \ge 1, \qquad
        z_i^k + \sum_{j: c_{ij} = D_i^k} y_j \ge z_i^{k-1} \;\; (k \ge 2),\qquad
        \sum_j y_j = p,\qquad y_j = 1 \;\; \forall j \in E,

    with :math:`y_j \in \{0,1\}`, :math:`z \ge 0`. Summing a chain gives Elloumi's
    constraint :math:`z_i^k \ge 1 - \sum_{j: c_{ij} \le D_i^k} y_j` (same LP bound), but
    every :math:`y_j` appears once per point, so the model has as many nonzeros as
    allowed pairs. :math:`U` is the cost of leaving a point unserved (optional; without
    it :math:`z_i^{K_i} = 0` and every point must be served). A chain stops at the first
    level where a plan is sure to have a site: a fixed site, or :math:`m - p + 1` sites
    (any :math:`p` of :math:`m` sites include one of them).

    Parameters
    ----------
    costs
        (n_demand, n_sites) cost matrix: dense (every pair allowed) or sparse (only
        stored pairs allowed; stored zeros are real zero costs).
    weights
        Demand weight per point.
    p
        Number of sites, fixed ones included.
    fixed
        Sites every plan keeps.
    unserved_cost
        Cost per unit of demand left unserved; ``None`` requires serving everyone.
    spacing_pairs, groups, equity_share, budget, site_cost
        Side constraints, as for :class:`MaximalCovering`; equity counts the demand
        served (not left unserved). With any of them the integer program is solved
        directly, without the Lagrangian steps.
    """

    name = "pmedian"

    def __init__(
        self,
        costs: np.ndarray | sp.sparray | sp.spmatrix,
        weights: np.ndarray,
        p: int,
        *,
        fixed: np.ndarray | None = None,
        unserved_cost: float | None = None,
        spacing_pairs: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        equity_share: float = 0.0,
        budget: float | None = None,
        site_cost: float | np.ndarray | None = None,
    ) -> None:
        self.indptr, self.indices, self.data, self.shape = _cost_rows(costs)
        n_d, n_s = self.shape
        self.weights = check_values(weights, n_d, "weights")
        self.p = check_count(p, "p")
        self.fixed = _fixed_sites(fixed, n_s)
        self.unserved_cost = (
            None if unserved_cost is None else check_number(unserved_cost, "unserved_cost")
        )
        bad = np.flatnonzero(~np.isfinite(self.data) | (self.data < 0))
        if len(bad):
            raise InputError(
                "costs: expected finite values >= 0 for allowed pairs, got "
                f"{self.data[bad[0]]} ({len(bad)} in all)"
            )
        if unserved_cost is not None and len(self.data) and unserved_cost < self.data.max():
            raise InputError(
                f"unserved_cost ({unserved_cost}) must be at least the largest cost "
                f"({self.data.max()})"
            )
        check_p(self.p, n_s, len(self.fixed))
        self.set_side_constraints(
            spacing_pairs=spacing_pairs,
            groups=groups,
            equity_share=equity_share,
            fixed=self.fixed,
            weights=self.weights,
            reachable=np.diff(self.indptr) > 0,
            n_sites=n_s,
        )
        self.set_budget(budget, site_cost, n_s, self.fixed)
        if unserved_cost is None:
            empty = np.flatnonzero((np.diff(self.indptr) == 0) & (self.weights > 0))
            if len(empty):
                raise InfeasibleError(
                    f"demand point {int(empty[0])} ({len(empty)} in all) has no allowed site and "
                    "unserved demand is not allowed; raise the cutoff or set an unserved cost"
                )

    @classmethod
    def from_cost_matrix(
        cls,
        cost: np.ndarray | sp.sparray | sp.spmatrix,
        weights: np.ndarray,
        p: int,
        *,
        fixed: np.ndarray | None = None,
        unserved_cost: float | None = None,
        **side: Any,
    ) -> PMedian:
        """Build from a dense or sparse (n_demand, n_sites) cost matrix."""
        return cls(cost, weights, p, fixed=fixed, unserved_cost=unserved_cost, **side)

    @classmethod
    def from_travel_times(
        cls,
        tt: DriveTimes,
        weights: np.ndarray,
        p: int,
        *,
        fixed: np.ndarray | None = None,
        unserved_cost: float | None = None,
        **side: Any,
    ) -> PMedian:
        """Build from the sparse drive times (seconds); pairs beyond the cutoff are not allowed."""
        return cls(tt.matrix, weights, p, fixed=fixed, unserved_cost=unserved_cost, **side)

    @classmethod
    def from_geodataframe(
        cls,
        demand: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        weight_col: str,
        p: int,
        *,
        fixed_col: str | None = None,
        **side: Any,
    ) -> PMedian:
        """Build from point layers with straight-line distances (in CRS units).

        Both layers must share a projected CRS; a geographic CRS draws a warning.
        """
        cost = _layer_distances(demand, sites, [weight_col], "PMedian.from_geodataframe")
        fixed = np.flatnonzero(sites[fixed_col].to_numpy(bool)) if fixed_col else None
        return cls(cost, demand[weight_col].to_numpy(float), p, fixed=fixed, **side)

    # -------------------------------------------------------------- heuristic
    def dense_costs(self) -> np.ndarray:
        """The cost matrix with disallowed pairs at the unserved cost (or a big M)."""
        n_d, n_s = self.shape
        big = self.unserved_cost
        if big is None:
            big = 10.0 * (float(self.data.max()) if len(self.data) else 1.0) + 1.0
        D = np.full((n_d, n_s), big)
        rows = np.repeat(np.arange(n_d), np.diff(self.indptr))
        D[rows, self.indices] = self.data
        return D

    def heuristic(self) -> np.ndarray:
        """Greedy construction and swap improvement; the first incumbent of :meth:`solve`."""
        return _solve.heuristic(self, self.dense_costs())

    # ------------------------------------------------------------------ model
    def build(
        self, *, start: np.ndarray | None = None
    ) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
        """The PuLP problem (chain radius formulation) and its site variables."""
        n_d, n_s = self.shape
        prob = pulp.LpProblem(self.name, pulp.LpMinimize)
        fixed = set(self.fixed.tolist())
        y = _site_variables(prob, n_s, self.fixed)
        is_open = np.zeros(n_s, dtype=bool)
        if start is not None:
            is_open[np.asarray(start, dtype=np.int64)] = True
            for j, v in enumerate(y):
                v.setInitialValue(1.0 if is_open[j] else 0.0)
        guarantee = n_s - self.p + 1
        U = self.unserved_cost
        self.levels_total = np.zeros(n_d, dtype=np.int64)
        served: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
        served_constant = np.where(np.diff(self.indptr) > 0, self.weights, 0.0)
        objective: list[tuple[pulp.LpVariable, float]] = []
        constant = 0.0
        for i in range(n_d):
            w = float(self.weights[i])
            lo, hi = self.indptr[i], self.indptr[i + 1]
            if w <= 0:
                continue
            if hi == lo:  # no allowed site: unserved (checked feasible in __init__)
                constant += w * float(U or 0.0)
                continue
            levels, values, last, closed_at_end = _chain_levels(
                self.data[lo:hi], self.indices[lo:hi], fixed, guarantee
            )
            self.levels_total[i] = last + 1
            assigned = values[-1] + 1.0
            if start is not None:
                open_levels = [k for k in range(last + 1) if is_open[levels[k]].any()]
                assigned = values[open_levels[0]] if open_levels else np.inf
            constant += w * float(values[0])
            prev: pulp.LpVariable | None = None
            for k in range(last + 1):
                final = k == last
                needs_z = not (final and (closed_at_end or U is None))
                terms = [(y[j], 1.0) for j in levels[k].tolist()]
                z = None
                if needs_z:
                    z = prob.add_variable(f"z_{i}_{k}", lowBound=0)
                    nxt = float(values[k + 1]) if not final else float(U or 0.0)
                    step = nxt - float(values[k])
                    objective.append((z, w * step))
                    terms.append((z, 1.0))
                    if start is not None:
                        z.setInitialValue(1.0 if assigned > values[k] else 0.0)
                rhs = 1.0
                if prev is not None:
                    terms.append((prev, -1.0))
                    rhs = 0.0
                prob += pulp.LpConstraint(
                    pulp.LpAffineExpression(terms), pulp.LpConstraintGE, f"chain_{i}_{k}", rhs
                )
                prev = z
            if prev is not None and not closed_at_end and U is not None:
                served[i] = [(prev, -w)]  # the last z: served beyond every site, i.e. unserved
        prob += pulp.LpAffineExpression(objective, constant=constant), "weighted_cost"
        self.add_site_rows(prob, y, self.p, served, self.weights, served_constant)
        return prob, y

    def solve(
        self,
        solver: str | SolveOptions | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> SolveResult:
        """Solve exactly (within ``gap``): Lagrangian bound and reduction, search, then MIP.

        1. Greedy + swap gives the incumbent (:meth:`heuristic`).
        2. A subgradient Lagrangian bound (Beasley 1993) may prove it optimal at
           once; its reduced costs close (or open) the sites that no better plan
           can use (or avoid).
        3. With few sites left to choose, a depth-first Lagrangian branch-and-bound
           (``siting.optimize.pmedian._lagrangian``) finishes the proof.
        4. Otherwise, or if the search stops unfinished, the radius formulation on
           the reduced sites: with HiGHS (default) by Benders decomposition
           (``_benders.py``), with CBC as the chain radius integer program, both
           warm-started from the incumbent.

        ``result.solver`` names the step that proved the bound (``lagrangian`` or the
        MIP solver). See :meth:`MaximalCovering.solve` for the parameters.
        """
        o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        tol = o.gap
        t0 = time.perf_counter()
        deadline = t0 + o.time_limit if o.time_limit is not None else np.inf
        D = self.dense_costs()
        w = self.weights
        costs = _lagrangian.Costs(w[:, None] * D)  # sorted once: swap and Lagrangian
        incumbent = _solve.heuristic(self, D, deadline, costs)
        cost = _heuristics.pmedian_cost(D, w, incumbent)
        extra: dict[str, Any] = {"heuristic_objective": cost}
        n_s = self.shape[1]
        must = np.zeros(n_s, dtype=bool)
        must[self.fixed] = True
        allowed = np.ones(n_s, dtype=bool)
        bound = -np.inf
        if not self.plain():  # the Lagrangian steps know no side constraints
            log.info(
                "pmedian: spacing, equity or budget rows rule out the Lagrangian steps and "
                "the Benders decomposition; the whole radius program instead"
            )
            return _solve.solve_side(self, o, incumbent, t0=t0, extra=extra)
        if _solve.serves_everyone(self, incumbent):
            found = _solve.lagrangian_steps(self, D, costs, incumbent, cost, tol, deadline, extra)
            incumbent, cost, bound, must, allowed, proven = found
            if proven:
                return _solve.read_result(
                    self, "lagrangian", incumbent, cost, bound, tol, t0, None, extra
                )
        return _solve.solve_reduced(
            self, o, incumbent, cost, bound, must, allowed, t0=t0, deadline=deadline, extra=extra
        )


def _chain_levels(
    cost: np.ndarray, sites: np.ndarray, fixed: set[int], guarantee: int
) -> tuple[list[np.ndarray], np.ndarray, int, bool]:
    """One point's distinct cost levels for the chain radius rows.

    Returns the sites at each level, the level costs, the last level needed (the
    first that surely holds an open site: ``guarantee`` sites in all, or an
    existing one) and whether that level closes the chain.
    """
    order = np.argsort(cost, kind="stable")
    cost, sites = cost[order], sites[order]
    new = np.ones(len(cost), dtype=bool)
    new[1:] = cost[1:] != cost[:-1]
    starts = np.flatnonzero(new)
    levels = np.split(sites, starts[1:])
    counts = np.cumsum([len(g) for g in levels])
    sure = np.flatnonzero(
        (counts >= guarantee) | np.array([bool(fixed & set(g.tolist())) for g in levels])
    )
    last = int(sure[0]) if len(sure) else len(levels) - 1
    return levels, cost[starts], last, len(sure) > 0
