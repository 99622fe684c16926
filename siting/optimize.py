"""Stage 5 — choose station sites with integer programs (PuLP; HiGHS or CBC).

Models are classes built with ``cls(...)`` from a sparse neighbour structure,
with classmethod constructors from a cost matrix (dense or sparse), from a
:class:`~siting.travel.TravelTimes`, or from GeoDataFrames; ``solve()`` returns a
:class:`SolveResult` whose status never claims an optimum the solver did not
prove.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pulp
import scipy.sparse as sp

from siting import _cover, _heuristics, _lagrangian, _solvers, settings
from siting._errors import InfeasibleError, InputError
from siting._io import check_projected
from siting.travel import TravelTimes

log = logging.getLogger(__name__)


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
    ) -> SolveResult:
        """A result from the solver's report (:class:`siting._solvers.SolveInfo`)."""
        return cls(
            model=model,
            selected=selected,
            objective=info.objective,
            bound=info.bound,
            gap=info.gap,
            status=info.status,
            solver=info.solver,
            solve_s=info.seconds,
            build_s=build_s,
            gap_tolerance=info.gap_tolerance,
            stopped_by=info.stopped_by,
            extra=extra,
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


def close_pairs(xy: np.ndarray, min_spacing: float) -> np.ndarray:
    """Pairs (j, k), j < k, of sites closer than ``min_spacing`` (same units as ``xy``)."""
    from scipy.spatial import cKDTree

    if min_spacing <= 0 or len(xy) < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(min_spacing - 1e-9, output_type="ndarray")
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


class _SideConstraints:
    """Spacing and equity rows shared by the covering and capacitated models.

    ``spacing_pairs``: no two sites of a pair may both be open. ``equity``: each
    group of demand points (e.g. a district) must have at least its share of
    demand covered (covering model) or served (capacitated model).
    """

    spacing_pairs: np.ndarray
    groups: np.ndarray | None
    equity_share: float
    budget: float | None

    def set_side_constraints(
        self,
        *,
        spacing_pairs: np.ndarray | None,
        groups: np.ndarray | None,
        equity_share: float,
        fixed: np.ndarray,
        weights: np.ndarray,
        reachable: np.ndarray,
    ) -> None:
        self.spacing_pairs = (
            np.asarray(spacing_pairs, dtype=np.int64).reshape(-1, 2)
            if spacing_pairs is not None
            else np.empty((0, 2), dtype=np.int64)
        )
        fixed_set = set(fixed.tolist())
        for j, k in self.spacing_pairs.tolist():
            if j in fixed_set and k in fixed_set:
                raise InfeasibleError(
                    f"optimize.min_spacing_m: existing stations {j} and {k} are closer than the "
                    "minimum spacing; lower it or drop one of them"
                )
        if not 0.0 <= equity_share <= 1.0:
            raise InputError(
                f"optimize.equity_share: expected a share in [0, 1], got {equity_share}"
            )
        self.groups = None if groups is None else np.asarray(groups, dtype=object)
        self.equity_share = equity_share
        if self.groups is not None and equity_share > 0:
            if len(self.groups) != len(weights):
                raise InputError("groups: expected one district per demand point")
            for g in sorted(set(self.groups.tolist())):
                mask = self.groups == g
                total = float(weights[mask].sum())
                best = float(weights[mask & reachable].sum())
                if total > 0 and best < equity_share * total - 1e-9:
                    raise InfeasibleError(
                        f"optimize.equity_share = {equity_share:g} cannot be met in district "
                        f"{g!r}: only {100 * best / total:.1f}% of its demand has a candidate "
                        "site within the threshold"
                    )

    def set_budget(
        self,
        budget: float | None,
        site_cost: float | np.ndarray | None,
        n_sites: int,
        fixed: np.ndarray,
    ) -> None:
        """A budget on the cost of the new sites; with it, ``p`` is the largest number of sites.

        Existing (fixed) sites are sunk costs: they cost nothing against the budget.
        """
        self.budget = budget
        self.site_cost = None
        if budget is None:
            return
        if site_cost is None:
            raise InputError("site_cost: a budget needs the cost of each site")
        cost = np.broadcast_to(np.asarray(site_cost, dtype=float), (n_sites,)).copy()
        if not np.all(np.isfinite(cost)) or (cost < 0).any():
            raise InputError("site_cost: expected finite costs >= 0")
        cost[fixed] = 0.0  # existing stations are sunk costs
        self.site_cost = cost

    def add_budget(self, prob: pulp.LpProblem, y: list[pulp.LpVariable]) -> None:
        """Add the budget row (nothing without a budget)."""
        if self.budget is None or self.site_cost is None:
            return
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(
                [(v, float(c)) for v, c in zip(y, self.site_cost, strict=True) if c]
            ),
            pulp.LpConstraintLE,
            "budget",
            float(self.budget),
        )

    def explain_infeasible(self, what: str) -> str:
        """Name the side constraints that, with p and the capacities, leave no plan."""
        parts = []
        if self.groups is not None and self.equity_share > 0:
            parts.append(f"optimize.equity_share = {self.equity_share:g} in every district")
        if len(self.spacing_pairs):
            parts.append(f"optimize.min_spacing_m ({len(self.spacing_pairs)} site pairs too close)")
        if getattr(self, "budget", None) is not None:
            parts.append(f"optimize.budget ({self.budget:,.0f})")
        if not parts:
            return f"{what} has no feasible plan"
        return f"{what} has no plan meeting " + " and ".join(parts) + "; relax one of them"

    def _plain(self) -> bool:
        """No spacing, equity or budget rows: the large-instance methods apply."""
        return (
            len(self.spacing_pairs) == 0
            and (self.groups is None or self.equity_share <= 0)
            and self.budget is None
        )

    def add_side_constraints(
        self,
        prob: pulp.LpProblem,
        open_expr: list[pulp.LpAffineExpression],
        served: dict[int, list[tuple[pulp.LpVariable, float]]],
        weights: np.ndarray,
        served_constant: np.ndarray | None = None,
    ) -> None:
        """Add spacing rows (on ``open_expr[j]``) and equity rows.

        Point ``i`` serves ``served[i]`` (terms) plus ``served_constant[i]``.
        """
        for j, k in self.spacing_pairs.tolist():
            prob += pulp.LpConstraint(
                open_expr[j] + open_expr[k], pulp.LpConstraintLE, f"spacing_{j}_{k}", 1.0
            )
        if self.groups is None or self.equity_share <= 0:
            return
        for g in sorted(set(self.groups.tolist())):
            idx = np.flatnonzero(self.groups == g)
            total = float(weights[idx].sum())
            if total <= 0:
                continue
            terms = [t for i in idx.tolist() for t in served.get(i, [])]
            const = float(served_constant[idx].sum()) if served_constant is not None else 0.0
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(terms),
                pulp.LpConstraintGE,
                f"equity_{g}",
                self.equity_share * total - const,
            )


class MaximalCovering(_SideConstraints):
    r"""Maximal covering location problem (Church and ReVelle, 1974).

    Choose ``p`` sites maximising the demand within the coverage threshold of
    at least one chosen site, keeping the fixed (existing) sites:

    .. math::

        \max \sum_{i \in I} w_i z_i
        \quad\text{s.t.}\quad
        z_i \le \sum_{j \in N_i} y_j \;\; \forall i,\qquad
        \sum_{j \in J} y_j = p,\qquad
        y_j = 1 \;\; \forall j \in E,

    .. math::

        y_j \in \{0, 1\},\qquad 0 \le z_i \le 1,

    where :math:`N_i` are the sites within the threshold of demand point
    :math:`i` and :math:`E` the existing sites. :math:`z_i` may be continuous:
    for binary :math:`y` an optimum has :math:`z_i \in \{0,1\}`. Demand points
    with an empty :math:`N_i` get no variable and no constraint.

    When ``costs`` (travel times of the pairs in :math:`N_i`) are given, a second,
    lexicographic stage chooses among the plans of maximal coverage
    :math:`C^*` the one with the least demand-weighted access time:

    .. math::

        \min \sum_i \sum_{j \in N_i} w_i t_{ij} x_{ij}
        \quad\text{s.t.}\quad
        \sum_{j \in N_i} x_{ij} = z_i,\quad x_{ij} \le y_j,\quad
        \sum_i w_i z_i \ge C^*,

    with the constraints above and :math:`x_{ij} \ge 0`. Without it, once
    coverage saturates the remaining sites would be placed arbitrarily.

    Parameters
    ----------
    neighbours
        Sparse (n_demand, n_sites) matrix whose stored entries mark the pairs
        within the threshold.
    weights
        Demand weight per point (e.g. sessions per day), non-negative.
    p
        Number of sites in the plan, fixed ones included.
    fixed
        Indices of sites that every plan keeps.
    costs
        Optional sparse matrix of the same pattern as ``neighbours`` holding
        the travel time of each pair; turns on the access-time tie-break.
    """

    name = "mclp"

    def __init__(
        self,
        neighbours: sp.sparray | sp.spmatrix,
        weights: np.ndarray,
        p: int,
        *,
        fixed: np.ndarray | None = None,
        costs: sp.sparray | sp.spmatrix | None = None,
        spacing_pairs: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        equity_share: float = 0.0,
        budget: float | None = None,
        site_cost: float | np.ndarray | None = None,
    ) -> None:
        nb = sp.csr_array(neighbours)
        nb.sum_duplicates()
        self.neighbours = nb
        self.costs = None
        if costs is not None:
            c = sp.csr_array(costs)
            c.sort_indices()
            nb.sort_indices()
            if c.shape != nb.shape or not (
                np.array_equal(c.indptr, nb.indptr) and np.array_equal(c.indices, nb.indices)
            ):
                raise InputError("costs: expected the same sparsity pattern as neighbours")
            self.costs = c
        self.weights = np.asarray(weights, dtype=float)
        self.p = int(p)
        self.fixed = np.unique(np.asarray(fixed if fixed is not None else [], dtype=np.int64))
        n_d, n_s = nb.shape
        _check_weights(self.weights, n_d)
        if len(self.fixed) and (self.fixed.min() < 0 or self.fixed.max() >= n_s):
            raise InputError(
                f"fixed: site indices must lie in [0, {n_s}), got {self.fixed.tolist()[:5]}"
            )
        _check_p(self.p, n_s, len(self.fixed))
        self.set_side_constraints(
            spacing_pairs=spacing_pairs,
            groups=groups,
            equity_share=equity_share,
            fixed=self.fixed,
            weights=self.weights,
            reachable=np.diff(nb.indptr) > 0,
        )
        self.set_budget(budget, site_cost, n_s, self.fixed)

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_cost_matrix(
        cls,
        cost: np.ndarray | sp.sparray | sp.spmatrix,
        weights: np.ndarray,
        p: int,
        *,
        threshold: float,
        fixed: np.ndarray | None = None,
    ) -> MaximalCovering:
        """Build from a (n_demand, n_sites) cost matrix.

        A dense matrix counts every entry; a sparse one only its stored entries
        (pairs not stored are out of reach). Pairs with ``cost <= threshold`` cover.
        """
        return cls(_within(cost, threshold), weights, p, fixed=fixed)

    @classmethod
    def from_travel_times(
        cls,
        tt: TravelTimes,
        weights: np.ndarray,
        p: int,
        *,
        threshold_s: float,
        fixed: np.ndarray | None = None,
        tie_break: bool = True,
        **side: Any,
    ) -> MaximalCovering:
        """Build from the sparse drive-time matrix of :func:`siting.travel.travel_times`.

        With ``tie_break`` the pair times feed the access-time second stage.
        """
        if threshold_s > tt.cutoff_s:
            raise InputError(
                f"threshold_s ({threshold_s:.0f}) exceeds the matrix cutoff "
                f"({tt.cutoff_s:.0f}); rebuild travel times with a larger cutoff"
            )
        nb = tt.neighbours(threshold_s)
        costs = None
        if tie_break:
            m = tt.matrix
            keep = m.data <= threshold_s
            costs = sp.csr_array((m.data[keep], nb.indices, nb.indptr), shape=nb.shape)
        return cls(nb, weights, p, fixed=fixed, costs=costs, **side)

    @classmethod
    def from_geodataframe(
        cls,
        demand: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        weight_col: str,
        p: int,
        *,
        threshold: float,
        fixed_col: str | None = None,
    ) -> MaximalCovering:
        """Build from point layers with straight-line distances (in CRS units).

        Both layers must share a projected CRS; a geographic CRS draws a warning
        because the threshold would then be in degrees.
        """
        if demand.crs != sites.crs:
            raise InputError(f"demand CRS {demand.crs} differs from sites CRS {sites.crs}")
        check_projected(demand, what="MaximalCovering.from_geodataframe")
        if weight_col not in demand.columns:
            raise InputError(f"weight_col: demand has no column {weight_col!r}")
        from scipy.spatial import cKDTree

        d_xy = np.column_stack([demand.geometry.centroid.x, demand.geometry.centroid.y])
        s_xy = np.column_stack([sites.geometry.centroid.x, sites.geometry.centroid.y])
        pairs = cKDTree(d_xy).sparse_distance_matrix(
            cKDTree(s_xy), threshold, output_type="coo_matrix"
        )
        nb = sp.csr_array(
            (np.ones(pairs.nnz, dtype=bool), (pairs.row, pairs.col)),
            shape=(len(demand), len(sites)),
        )
        # sparse_distance_matrix drops zero distances; add exact coincidences back
        same = cKDTree(d_xy).query_ball_tree(cKDTree(s_xy), 0.0)
        extra = [(i, j) for i, js in enumerate(same) for j in js]
        if extra:
            r, c = np.array(extra).T
            nb = (nb + sp.csr_array((np.ones(len(r), dtype=bool), (r, c)), shape=nb.shape)).astype(
                bool
            )
        fixed = np.flatnonzero(sites[fixed_col].to_numpy(bool)) if fixed_col else None
        return cls(nb, demand[weight_col].to_numpy(float), p, fixed=fixed)

    # -------------------------------------------------------------- heuristic
    def greedy(self) -> np.ndarray:
        """Greedy plan: fixed sites, then repeatedly the site adding most coverage.

        Deterministic (ties go to the lowest index); used as the warm start.
        """
        nb_t = self.neighbours.T.tocsr().astype(float)
        chosen = np.zeros(self.neighbours.shape[1], dtype=bool)
        chosen[self.fixed] = True
        covered = np.asarray(self.neighbours[:, self.fixed].sum(axis=1) > 0).ravel()
        left = np.inf
        if self.site_cost is not None and self.budget is not None:
            left = self.budget - float(self.site_cost[self.fixed].sum())
        for _ in range(self.p - len(self.fixed)):
            gain = nb_t @ np.where(covered, 0.0, self.weights)
            gain[chosen] = -1.0
            if self.site_cost is not None:
                gain[self.site_cost > left + 1e-9] = -1.0
            j = int(np.argmax(gain))
            if gain[j] < 0:  # nothing affordable is left
                break
            if self.site_cost is not None:
                left -= float(self.site_cost[j])
            chosen[j] = True
            covered[nb_t.indices[nb_t.indptr[j] : nb_t.indptr[j + 1]]] = True
        return np.flatnonzero(chosen)

    # ------------------------------------------------------------------ model
    def build(
        self, *, min_coverage: float | None = None, start: np.ndarray | None = None
    ) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
        """The PuLP problem and its site variables (sparse: one row per reachable point).

        With ``min_coverage`` (and ``costs``) this is the tie-break stage: coverage
        at least ``min_coverage``, minimum demand-weighted access time. ``start``
        (site indices) sets initial values for a warm start: each covered point
        assigned to its nearest chosen site.
        """
        nb = self.neighbours
        n_s = nb.shape[1]
        stage2 = min_coverage is not None
        if stage2 and self.costs is None:
            raise InputError("min_coverage: the tie-break stage needs costs")
        prob = pulp.LpProblem(self.name, pulp.LpMinimize if stage2 else pulp.LpMaximize)
        y = _site_variables(prob, n_s, self.fixed)
        counts = np.diff(nb.indptr)
        rows = np.flatnonzero((counts > 0) & (self.weights > 0))
        row_weight = self.weights
        served_constant = None
        constant = 0.0
        if not stage2:
            # exact reductions: points an existing site covers are covered in every plan,
            # and points with the same sites in reach (and district) share one row
            rows, row_weight, by_fixed = _cover_rows(nb, self.weights, self.fixed, self.groups)
            served_constant = np.where(by_fixed, self.weights, 0.0)
            constant = float(served_constant.sum())
        z = {i: prob.add_variable(f"z_{i}", lowBound=0, upBound=1) for i in rows.tolist()}
        is_open = np.zeros(n_s, dtype=bool)
        hit = np.zeros(nb.shape[0], dtype=bool)
        if start is not None:
            is_open[np.asarray(start, dtype=np.int64)] = True
            hit = np.asarray(nb[:, is_open].sum(axis=1) > 0).ravel()
            for j, v in enumerate(y):
                v.setInitialValue(1.0 if is_open[j] else 0.0)
            for i, v in z.items():
                v.setInitialValue(1.0 if hit[i] else 0.0)
        covered = pulp.LpAffineExpression(
            [(z[i], float(row_weight[i])) for i in z], constant=constant
        )
        indptr, indices = nb.indptr, nb.indices
        if stage2:
            assert self.costs is not None and min_coverage is not None
            prob += covered >= min_coverage, "coverage_floor"
            obj: list[tuple[pulp.LpVariable, float]] = []
            for i in rows.tolist():
                lo, hi = indptr[i], indptr[i + 1]
                xs = [
                    prob.add_variable(f"x_{i}_{j}", lowBound=0, upBound=1)
                    for j in indices[lo:hi].tolist()
                ]
                if start is not None:
                    js = indices[lo:hi]
                    t = np.where(is_open[js], self.costs.data[lo:hi], np.inf)
                    best = int(np.argmin(t)) if hit[i] else -1
                    for k, x in enumerate(xs):
                        x.setInitialValue(1.0 if k == best else 0.0)
                w = float(self.weights[i])
                obj.extend(
                    (x, w * float(t)) for x, t in zip(xs, self.costs.data[lo:hi], strict=True)
                )
                prob += pulp.LpConstraint(
                    pulp.LpAffineExpression([(x, 1.0) for x in xs] + [(z[i], -1.0)]),
                    pulp.LpConstraintEQ,
                    f"assign_{i}",
                    0.0,
                )
                for x, j in zip(xs, indices[lo:hi].tolist(), strict=True):
                    prob += pulp.LpConstraint(
                        pulp.LpAffineExpression([(x, 1.0), (y[j], -1.0)]),
                        pulp.LpConstraintLE,
                        f"open_{i}_{j}",
                        0.0,
                    )
            prob += pulp.LpAffineExpression(obj), "weighted_access_s"
        else:
            prob += covered, "covered"
        for i in rows.tolist():
            terms = [(y[j], -1.0) for j in indices[indptr[i] : indptr[i + 1]].tolist()]
            terms.append((z[i], 1.0))
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(terms), pulp.LpConstraintLE, f"cover_{i}", 0.0
            )
        self.add_side_constraints(
            prob,
            [pulp.LpAffineExpression([(v, 1.0)]) for v in y],
            {i: [(z[i], float(row_weight[i]))] for i in z},
            self.weights,
            served_constant,
        )
        _add_p_sites(prob, y, self.p, at_most=self.budget is not None)
        self.add_budget(prob, y)
        return prob, y

    def _solve_reduced(
        self,
        solver: str | None,
        *,
        time_limit: float | None,
        gap: float | None,
        threads: int | None,
        msg: bool,
    ) -> tuple[_solvers.SolveInfo, np.ndarray, float, dict[str, Any]]:
        """Greedy and swap plan, Lagrangian bound, site fixing, then the MIP on what is left.

        The reported bound is the smaller of the Lagrangian bound and the MIP's
        bound on the reduced problem (or the plan's value, if higher): the fixings
        only exclude plans no better than the swap plan.
        """
        t0 = time.perf_counter()
        _, tol = _solvers.check_options(solver, time_limit, gap)
        nb = self.neighbours
        n_s = nb.shape[1]
        rows, row_w, by_fixed = _cover_rows(nb, self.weights, self.fixed, None)
        constant = float(self.weights[by_fixed].sum())
        sub = nb[rows]
        w = row_w[rows]
        budget_s = 0.25 * time_limit if time_limit else 30.0
        plan = _cover.swap(sub, w, self.greedy(), self.fixed, time_limit=budget_s)
        is_open = np.zeros(n_s, dtype=bool)
        is_open[plan] = True
        incumbent = _cover.coverage(sub, w, is_open)
        free = np.ones(n_s, dtype=bool)
        free[self.fixed] = False
        n_free = self.p - len(self.fixed)
        bound = _cover.lagrangian_bound(sub, w, n_free, free, incumbent, time_limit=budget_s)
        eps = 1e-7 * max(1.0, incumbent)
        must_open, must_close = _cover.fix_sites(bound, free, n_free, incumbent - eps)
        heuristic_s = time.perf_counter() - t0
        upper = constant + bound.value
        lower = constant + incumbent
        report: dict[str, Any] = {
            "heuristic_objective": lower,
            "bound": upper,
            "iterations": bound.iterations,
            "sites_opened_for_good": int(must_open.sum()),
            "sites_closed_for_good": int(must_close.sum()),
            "seconds": round(heuristic_s, 3),
        }
        log.info(
            "mclp: swap plan %.6g, Lagrangian bound %.6g (%d steps), %d sites fixed open, "
            "%d closed, %.2f s",
            lower,
            upper,
            bound.iterations,
            must_open.sum(),
            must_close.sum(),
            heuristic_s,
        )
        if _solvers.relative_gap(lower, upper) <= tol:  # type: ignore[operator]
            info = _solvers.SolveInfo(
                "optimal",
                lower,
                upper,
                _solvers.relative_gap(lower, upper),
                "lagrangian",
                heuristic_s,
                tol,
                None,
            )
            return info, plan, heuristic_s, report
        # the MIP on the sites still undecided: closed ones lose their columns
        keep = np.flatnonzero(~must_close)
        cols = sp.csr_array(nb[:, keep])
        restricted = MaximalCovering(
            sp.csr_array((cols.data, keep[cols.indices], cols.indptr), shape=nb.shape),
            self.weights,
            self.p,
            fixed=np.union1d(self.fixed, np.flatnonzero(must_open)),
        )
        prob, y = restricted.build(start=plan)
        for j in np.flatnonzero(must_close).tolist():
            y[j].upBound = 0
        build_s = time.perf_counter() - t0
        left = None if time_limit is None else max(1.0, time_limit - build_s)
        info = _solvers.run(prob, solver, time_limit=left, gap=gap, threads=threads, msg=msg)
        if info.status == "infeasible":
            raise InfeasibleError(self.explain_infeasible(f"maximal covering (p={self.p})"))
        selected = np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))
        objective = info.objective
        if lower > objective + eps:  # the solver lost the warm start: keep the swap plan
            objective, selected = lower, plan
        mip_bound = info.bound if info.bound is not None else np.inf
        best_bound = min(upper, max(mip_bound, lower))
        g = _solvers.relative_gap(objective, best_bound)
        # proven on the reduced problem, whose fixings only exclude plans no better
        # than the swap plan it was started from: proven for the whole problem
        proven = info.status == "optimal" or (g is not None and g <= tol + 1e-9)
        status = "optimal" if proven else "feasible"
        report["mip_bound"] = info.bound
        info = _solvers.SolveInfo(
            status,
            objective,
            best_bound,
            g,
            info.solver,
            time.perf_counter() - t0 - build_s,
            tol,
            None if status == "optimal" else info.stopped_by,
        )
        return info, selected, build_s, report

    def solve(
        self,
        solver: str | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> SolveResult:
        """Solve with HiGHS (default) or CBC.

        Parameters
        ----------
        solver
            ``"highs"`` or ``"cbc"``.
        time_limit
            Seconds; a solve stopped by it is reported ``feasible`` with its gap.
        gap
            Relative optimality gap at which the solver may stop (default 1e-4).
        threads
            Solver threads.
        msg
            Show the solver's log.
        """
        t0 = time.perf_counter()
        extra: dict[str, Any] = {}
        if self._plain():
            info, selected, build_s, extra["lagrangian"] = self._solve_reduced(
                solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg
            )
        else:
            start = self.greedy()
            prob, y = self.build(start=start)
            build_s = time.perf_counter() - t0
            info = _solvers.run(
                prob, solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg
            )
            if info.status == "infeasible":
                raise InfeasibleError(self.explain_infeasible(f"maximal covering (p={self.p})"))
            selected = np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))
        status, stopped, bound, gap_v = info.status, info.stopped_by, info.bound, info.gap
        if self.costs is not None:
            # lexicographic stage 2: keep the coverage found, minimise access time
            floor = info.objective - 1e-7 * max(1.0, abs(info.objective))
            remaining = None if time_limit is None else max(1.0, time_limit - info.seconds)
            t1 = time.perf_counter()
            prob2, y2 = self.build(min_coverage=floor, start=selected)
            build_s += time.perf_counter() - t1
            info2 = _solvers.run(
                prob2, solver, time_limit=remaining, gap=gap, threads=threads, msg=msg
            )
            if info2.status != "infeasible":
                selected = np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y2]))
                extra["tie_break"] = {
                    "objective": "demand-weighted access time (s)",
                    "value": info2.objective,
                    "bound": info2.bound,
                    "gap": info2.gap,
                    "status": info2.status,
                    "solve_s": round(info2.seconds, 3),
                }
                if info2.status != "optimal":
                    status, stopped = "feasible", f"tie-break stage: {info2.stopped_by}"
                info = _solvers.SolveInfo(
                    **{**info.__dict__, "seconds": info.seconds + info2.seconds}
                )
        covered = self.neighbours[:, selected].sum(axis=1) > 0
        total = float(self.weights.sum())
        extra.update(covered_weight=float(self.weights[covered].sum()), total_weight=total)
        # each covered point to its nearest selected site (by cost if given, else any)
        nb = self.neighbours
        pair_cost = self.costs.data if self.costs is not None else np.zeros(nb.nnz)
        assignment = _assign(nb.indptr, nb.indices, pair_cost, nb.shape[0], selected)
        extra.update(
            assignment=assignment, load=_site_load(assignment, self.weights, len(selected))
        )
        result = SolveResult(
            model=self.name,
            selected=selected,
            objective=info.objective,
            bound=bound,
            gap=gap_v,
            status=status,
            solver=info.solver,
            solve_s=info.seconds,
            build_s=build_s,
            gap_tolerance=info.gap_tolerance,
            stopped_by=stopped,
            extra=extra,
        )
        if self.site_cost is not None:
            extra["cost"] = float(self.site_cost[selected].sum())
        elif len(selected) != self.p:
            raise InfeasibleError(f"solver returned {len(selected)} sites, expected p={self.p}")
        return result


def _cover_rows(
    nb: sp.csr_array, weights: np.ndarray, fixed: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a covering model after two exact reductions.

    Points within reach of a fixed site are covered in every plan (returned as a
    mask, their weight a constant); points with identical neighbour sets (and the
    same equity group) are merged into their first point, which carries the
    summed weight. Returns (representative rows, weight per row, fixed-covered mask).
    """
    n_d = nb.shape[0]
    by_fixed = np.zeros(n_d, dtype=bool)
    if len(fixed):
        by_fixed = np.asarray(nb[:, fixed].sum(axis=1) > 0).ravel() & (weights > 0)
    live = (np.diff(nb.indptr) > 0) & (weights > 0) & ~by_fixed
    rows, rep_of = _same_rows(nb, live, groups)
    merged = np.bincount(rep_of[live], weights=weights[live], minlength=n_d)
    return rows, merged, by_fixed


def _same_rows(
    nb: sp.csr_array, live: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Group the ``live`` rows with identical neighbour sets (and group labels).

    Returns (representative rows ascending, representative of every row; -1
    where not live). A representative is the first row of its group.
    """
    rep_of = np.full(nb.shape[0], -1, dtype=np.int64)
    first: dict[tuple[object, bytes], int] = {}
    indptr, indices = nb.indptr, nb.indices
    for i in np.flatnonzero(live).tolist():
        key = (
            groups[i] if groups is not None else None,
            np.sort(indices[indptr[i] : indptr[i + 1]]).tobytes(),
        )
        rep_of[i] = first.setdefault(key, i)
    rows = np.fromiter(sorted(first.values()), dtype=np.int64, count=len(first))
    return rows, rep_of


def _site_variables(prob: pulp.LpProblem, n_sites: int, fixed: np.ndarray) -> list[pulp.LpVariable]:
    """One integer site variable per candidate; fixed sites bounded to [1, 1].

    (``LpBinary`` would reset a lower bound of 1 to 0, silently un-fixing a site.)
    """
    keep = set(fixed.tolist())
    return [
        prob.add_variable(f"y_{j}", lowBound=1 if j in keep else 0, upBound=1, cat=pulp.LpInteger)
        for j in range(n_sites)
    ]


def _add_p_sites(
    prob: pulp.LpProblem, y: list[pulp.LpVariable], p: int, *, at_most: bool = False
) -> None:
    """Exactly ``p`` sites (at most ``p`` under a budget), fixed ones included."""
    sense = pulp.LpConstraintLE if at_most else pulp.LpConstraintEQ
    prob += pulp.LpConstraint(
        pulp.LpAffineExpression([(v, 1.0) for v in y]), sense, "p_sites", float(p)
    )


def _check_weights(weights: np.ndarray, n_demand: int) -> None:
    if weights.shape != (n_demand,):
        raise InputError(
            f"weights: expected {n_demand} values (one per demand point), got shape {weights.shape}"
        )
    if not np.all(np.isfinite(weights)) or (weights < 0).any():
        raise InputError("weights: expected finite values >= 0")


def _check_p(p: int, n_sites: int, n_fixed: int) -> None:
    if p < 1:
        raise InfeasibleError(f"optimize.p: expected at least 1 station, got {p}")
    if p < n_fixed:
        raise InfeasibleError(
            f"optimize.p = {p} is smaller than the {n_fixed} existing stations that every plan "
            f"keeps; set p to at least {n_fixed}"
        )
    if p > n_sites:
        raise InfeasibleError(
            f"optimize.p = {p} exceeds the {n_sites} candidate sites; lower p or add candidates "
            "(candidates.grid_spacing_m smaller, or more OSM features)"
        )


def _assign(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_demand: int, selected: np.ndarray
) -> np.ndarray:
    """Each point's cheapest selected site among its allowed pairs (-1: none within reach).

    Returned as a position in ``selected``; ties go to the earlier position.
    """
    sel = np.asarray(selected, dtype=np.int64)
    n_cols = max(
        int(indices.max()) + 1 if len(indices) else 0, int(sel.max()) + 1 if len(sel) else 0
    )
    pos = np.full(max(n_cols, 1), -1, dtype=np.int64)
    pos[sel] = np.arange(len(sel))
    rows = np.repeat(np.arange(n_demand), np.diff(indptr))
    keep = pos[indices] >= 0
    rows, cols, cost = rows[keep], pos[indices[keep]], data[keep]
    order = np.lexsort((cols, cost, rows))  # by row, then cost, then position
    rows, cols = rows[order], cols[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    assignment = np.full(n_demand, -1, dtype=np.int64)
    assignment[rows[first]] = cols[first]
    return assignment


def _site_load(assignment: np.ndarray, weights: np.ndarray, n_selected: int) -> np.ndarray:
    """Demand weight assigned to each selected site."""
    served = assignment >= 0
    return np.bincount(assignment[served], weights[served], minlength=n_selected)


def _layer_distances(
    demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, columns: list[str], what: str
) -> np.ndarray:
    """Straight-line (n_demand, n_sites) distances between two layers in one projected CRS."""
    if demand.crs != sites.crs:
        raise InputError(f"demand CRS {demand.crs} differs from sites CRS {sites.crs}")
    check_projected(demand, what=what)
    for col in columns:
        if col not in demand.columns:
            raise InputError(f"{what}: demand has no column {col!r}")
    d = np.column_stack([demand.geometry.centroid.x, demand.geometry.centroid.y])
    s = np.column_stack([sites.geometry.centroid.x, sites.geometry.centroid.y])
    out: np.ndarray = np.linalg.norm(d[:, None, :] - s[None, :, :], axis=2)
    return out


def _within(cost: np.ndarray | sp.sparray | sp.spmatrix, threshold: float) -> sp.csr_array:
    return _within_times(cost, threshold)[0]


def _within_times(
    cost: np.ndarray | sp.sparray | sp.spmatrix, threshold: float
) -> tuple[sp.csr_array, sp.csr_array]:
    """Boolean pairs within ``threshold`` and their costs, on the same sparsity."""
    if sp.issparse(cost):
        m = sp.csr_array(cost)
        keep = m.data <= threshold
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[keep]
        cols, vals = m.indices[keep], m.data[keep].astype(float)
    else:
        arr = np.asarray(cost, dtype=float)
        if arr.ndim != 2:
            raise InputError(f"cost: expected a 2-D matrix, got {arr.ndim} dimension(s)")
        rows, cols = np.nonzero(arr <= threshold)
        vals = arr[rows, cols]
    shape = cost.shape
    nb = sp.csr_array((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)
    times = sp.csr_array((vals, (rows, cols)), shape=shape)
    return nb, times


def _aligned_times(times: sp.sparray | sp.spmatrix | None, nb: sp.csr_array) -> np.ndarray | None:
    """Pair times in the order of ``nb``'s stored entries (``None`` without times)."""
    if times is None:
        return None
    t = sp.csr_array(times, dtype=float)
    t.sum_duplicates()
    t.sort_indices()
    if t.shape != nb.shape or not (
        np.array_equal(t.indptr, nb.indptr) and np.array_equal(t.indices, nb.indices)
    ):
        raise InputError("times: expected the same sparsity pattern as neighbours")
    return np.asarray(t.data, dtype=float)


def _check_site_capacity(
    site_capacity: dict[int, tuple[str, float]] | None, fixed: np.ndarray
) -> dict[int, tuple[str, float]]:
    out: dict[int, tuple[str, float]] = {}
    fixed_set = set(fixed.tolist())
    for j, (t, k) in (site_capacity or {}).items():
        if int(j) not in fixed_set:
            raise InputError(f"site_capacity: site {j} is not a fixed (existing) site")
        if t not in ("AC", "DC") or not np.isfinite(k) or k <= 0:
            raise InputError(
                f"site_capacity[{j}]: expected ('AC' or 'DC', sessions/day > 0), got {(t, k)}"
            )
        out[int(j)] = (str(t), float(k))
    return out


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
        self.indptr, self.indices, self.data, self.shape = _rows(costs)
        n_d, n_s = self.shape
        self.weights = np.asarray(weights, dtype=float)
        self.p = int(p)
        self.fixed = np.unique(np.asarray(fixed if fixed is not None else [], dtype=np.int64))
        self.unserved_cost = unserved_cost
        _check_weights(self.weights, n_d)
        if not np.all(np.isfinite(self.data)) or (self.data < 0).any():
            raise InputError("costs: expected finite values >= 0 for allowed pairs")
        if unserved_cost is not None and len(self.data) and unserved_cost < self.data.max():
            raise InputError(
                f"unserved_cost ({unserved_cost}) must be at least the largest cost "
                f"({self.data.max()})"
            )
        if len(self.fixed) and (self.fixed.min() < 0 or self.fixed.max() >= n_s):
            raise InputError(f"fixed: site indices must lie in [0, {n_s})")
        _check_p(self.p, n_s, len(self.fixed))
        self.set_side_constraints(
            spacing_pairs=spacing_pairs,
            groups=groups,
            equity_share=equity_share,
            fixed=self.fixed,
            weights=self.weights,
            reachable=np.diff(self.indptr) > 0,
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
        tt: TravelTimes,
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
        return self._heuristic(self.dense_costs())

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
            order = np.argsort(self.data[lo:hi], kind="stable")
            cost = self.data[lo:hi][order]
            sites = self.indices[lo:hi][order]
            new = np.ones(len(cost), dtype=bool)
            new[1:] = cost[1:] != cost[:-1]
            starts = np.flatnonzero(new)
            levels = np.split(sites, starts[1:])
            values = cost[starts]
            counts = np.cumsum([len(g) for g in levels])
            sure = np.flatnonzero(
                (counts >= guarantee) | np.array([bool(fixed & set(g.tolist())) for g in levels])
            )
            last = int(sure[0]) if len(sure) else len(levels) - 1
            closed_at_end = len(sure) > 0
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
        self.add_side_constraints(
            prob,
            [pulp.LpAffineExpression([(v, 1.0)]) for v in y],
            served,
            self.weights,
            served_constant,
        )
        _add_p_sites(prob, y, self.p, at_most=self.budget is not None)
        self.add_budget(prob, y)
        return prob, y

    def solve(
        self,
        solver: str | None = None,
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
           (``siting._lagrangian``) finishes the proof.
        4. Otherwise, or if the search stops unfinished, the chain radius integer
           program on the reduced sites is solved with HiGHS (default) or CBC,
           warm-started from the incumbent.

        ``result.solver`` names the step that proved the bound (``lagrangian`` or the
        MIP solver). See :meth:`MaximalCovering.solve` for the parameters.
        """
        name, tol = _solvers.check_options(solver, time_limit, gap)
        t0 = time.perf_counter()
        deadline = t0 + time_limit if time_limit is not None else np.inf
        D = self.dense_costs()
        w = self.weights
        incumbent = self._heuristic(D, deadline)
        cost = _heuristics.pmedian_cost(D, w, incumbent)
        extra: dict[str, Any] = {"heuristic_objective": cost}
        n_s = self.shape[1]
        must = np.zeros(n_s, dtype=bool)
        must[self.fixed] = True
        allowed = np.ones(n_s, dtype=bool)
        bound = -np.inf
        if not self._plain():  # the Lagrangian steps know no side constraints
            return self._solve_side(name, incumbent, tol, t0, time_limit, threads, msg, extra)
        if self._serves_everyone(incumbent):
            found = self._lagrangian(D, incumbent, cost, tol, deadline, extra)
            incumbent, cost, bound, must, allowed, proven = found
            if proven:
                return self._result("lagrangian", incumbent, cost, bound, tol, t0, None, extra)
        return self._solve_reduced(
            name, incumbent, cost, bound, must, allowed, tol, t0, deadline, threads, msg, extra
        )

    def _solve_side(
        self,
        name: str,
        start: np.ndarray,
        tol: float,
        t0: float,
        time_limit: float | None,
        threads: int | None,
        msg: bool,
        extra: dict[str, Any],
    ) -> SolveResult:
        """The integer program with its side constraints, warm-started where the start fits."""
        fits = len(self.spacing_pairs) == 0 or not np.isin(self.spacing_pairs, start).all(1).any()
        if self.site_cost is not None and self.budget is not None:
            fits = fits and float(self.site_cost[start].sum()) <= self.budget
        prob, y = self.build(start=start if fits else None)
        remaining = (
            None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - t0))
        )
        info = _solvers.run(prob, name, time_limit=remaining, gap=tol, threads=threads, msg=msg)
        if info.status == "infeasible":
            raise InfeasibleError(self.explain_infeasible(f"p-median (p={self.p})"))
        selected = np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))
        if self.site_cost is not None:
            extra["cost"] = float(self.site_cost[selected].sum())
        elif len(selected) != self.p:
            raise InfeasibleError(f"solver returned {len(selected)} sites, expected p={self.p}")
        cost = _heuristics.pmedian_cost(self.dense_costs(), self.weights, selected)
        bound = info.bound if info.bound is not None else -np.inf
        stopped = None if info.status == "optimal" else (info.stopped_by or "stopped")
        return self._result(name, selected, cost, bound, tol, t0, stopped, extra)

    def _heuristic(self, D: np.ndarray, deadline: float = np.inf) -> np.ndarray:
        start = _heuristics.pmedian_greedy(D, self.weights, self.p, self.fixed)
        return _heuristics.pmedian_swap(D, self.weights, start, self.fixed, deadline=deadline)

    def _serves_everyone(self, sites: np.ndarray) -> bool:
        """Whether every weighted point has an allowed site in ``sites`` (or may go unserved)."""
        if self.unserved_cost is not None:
            return True
        is_open = np.zeros(self.shape[1], dtype=bool)
        is_open[sites] = True
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        served = np.zeros(self.shape[0], dtype=bool)
        served[rows[is_open[self.indices]]] = True
        return bool(served[self.weights > 0].all())

    def _pruning(self, tol: float) -> _lagrangian.Pruning:
        integral = bool(
            np.all(self.weights == np.round(self.weights))
            and np.all(self.data == np.round(self.data))
            and (self.unserved_cost is None or float(self.unserved_cost).is_integer())
        )
        return _lagrangian.Pruning(integral=integral, gap=tol)

    def _lagrangian(
        self,
        D: np.ndarray,
        incumbent: np.ndarray,
        cost: float,
        tol: float,
        deadline: float,
        extra: dict[str, Any],
    ) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray, bool]:
        """Steps 2 and 3 of :meth:`solve`: (incumbent, cost, bound, must, allowed, proven)."""
        w, p = self.weights, self.p
        pruning = self._pruning(tol)
        WD = w[:, None] * D
        costs = _lagrangian.Costs(WD)
        n_s = self.shape[1]
        must = np.zeros(n_s, dtype=bool)
        must[self.fixed] = True
        allowed = np.ones(n_s, dtype=bool)
        root = _lagrangian.subgradient(
            costs,
            p,
            must,
            allowed,
            _lagrangian.start_multipliers(WD),
            cost,
            pruning.threshold(cost),
            max_iter=settings.PMEDIAN_ROOT_ITERATIONS,
            deadline=deadline,
        )
        assert root is not None  # p is feasible (checked in __init__)
        relaxed = _heuristics.pmedian_swap(
            D, w, np.sort(root.selection), self.fixed, deadline=deadline
        )
        relaxed_cost = _heuristics.pmedian_cost(D, w, relaxed)
        if relaxed_cost < cost and self._serves_everyone(relaxed):
            incumbent, cost = relaxed, relaxed_cost
        bound = pruning.tighten(root.value)
        extra.update(lagrangian_bound=root.value, lagrangian_iterations=root.iterations)
        if root.value > pruning.threshold(cost):
            return incumbent, cost, min(bound, cost), must, allowed, True
        must, allowed = _lagrangian.fix_sites(
            costs, root.multipliers, p, must, allowed, pruning.threshold(cost)
        )
        extra.update(sites_closed=int((~allowed).sum()), sites_opened=int(must.sum()))
        k = p - int(must.sum())
        free = int((allowed & ~must).sum())
        few = k <= max(settings.PMEDIAN_SEARCH_MAX_SITES, settings.PMEDIAN_SEARCH_SHARE * free)
        # with fractional data and no gap tolerance the search can hardly prune: leave
        # the proof to the MIP
        prunable = pruning.integral or tol >= settings.PMEDIAN_SEARCH_MIN_GAP
        if not (few and prunable) or time.perf_counter() >= deadline:
            return incumbent, cost, bound, must, allowed, False
        remaining = deadline - time.perf_counter()
        keep = np.flatnonzero(allowed)  # search on the sites left only
        search = _lagrangian.branch_and_bound(
            D[:, keep],
            w,
            p,
            must[keep],
            np.ones(len(keep), dtype=bool),
            root.multipliers,
            np.empty(0, dtype=np.int64),  # the incumbent may use a closed site
            cost,
            pruning,
            max_nodes=settings.PMEDIAN_SEARCH_NODES,
            deadline=time.perf_counter() + min(remaining / 2, 300.0),
        )
        if search.cost < cost:
            incumbent, cost = keep[search.incumbent], search.cost
        extra.update(search_nodes=search.nodes, search_complete=search.complete)
        if search.complete:
            return incumbent, cost, search.bound, must, allowed, True
        return incumbent, cost, max(bound, search.bound), must, allowed, False

    def _solve_reduced(
        self,
        name: str,
        incumbent: np.ndarray,
        cost: float,
        bound: float,
        must: np.ndarray,
        allowed: np.ndarray,
        tol: float,
        t0: float,
        deadline: float,
        threads: int | None,
        msg: bool,
        extra: dict[str, Any],
    ) -> SolveResult:
        """Step 4 of :meth:`solve`: the integer program on the sites left."""
        # plans the Lagrangian tests excluded cost at least `floor` (none were excluded
        # if those tests did not run)
        floor = self._pruning(tol).floor(cost) if np.isfinite(bound) else np.inf
        keep = np.flatnonzero(allowed)
        remap = np.full(self.shape[1], -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        pair = allowed[self.indices]
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        counts = np.bincount(rows[pair], minlength=self.shape[0])
        sub_indptr = np.concatenate([[0], np.cumsum(counts)])
        sub = sp.csr_array(
            (self.data[pair], remap[self.indices[pair]], sub_indptr),
            shape=(self.shape[0], len(keep)),
        )
        needy = (np.diff(sub_indptr) == 0) & (self.weights > 0)
        if len(keep) < self.p or (self.unserved_cost is None and needy.any()):
            # no plan left that could beat the incumbent
            return self._result(
                "lagrangian", incumbent, cost, max(bound, floor), tol, t0, None, extra
            )
        if time.perf_counter() >= deadline:
            return self._result("lagrangian", incumbent, cost, bound, tol, t0, "time limit", extra)
        model = PMedian(
            sub,
            self.weights,
            self.p,
            fixed=remap[np.flatnonzero(must)],
            unserved_cost=self.unserved_cost,
        )
        start = remap[incumbent] if (remap[incumbent] >= 0).all() else model.heuristic()
        prob, y = model.build(start=start)
        extra["chain_levels"] = int(model.levels_total.sum())
        remaining = deadline - time.perf_counter() if np.isfinite(deadline) else None
        info = _solvers.run(
            prob,
            name,
            time_limit=max(remaining, 1.0) if remaining is not None else None,
            gap=tol,
            threads=threads,
            msg=msg,
        )
        if info.status == "infeasible":
            return self._result(
                "lagrangian", incumbent, cost, max(bound, floor), tol, t0, None, extra
            )
        chosen = keep[np.flatnonzero(np.array([(v.varValue or 0.0) > 0.5 for v in y]))]
        if len(chosen) != self.p:
            raise InfeasibleError(f"solver returned {len(chosen)} sites, expected p={self.p}")
        chosen_cost = _heuristics.pmedian_cost(self.dense_costs(), self.weights, chosen)
        if chosen_cost < cost:
            incumbent, cost = chosen, chosen_cost
        mip_bound = min(info.bound, floor) if info.bound is not None else None
        if mip_bound is not None:
            bound = max(bound, mip_bound)
        stopped = None if info.status == "optimal" else (info.stopped_by or "stopped")
        return self._result(name, incumbent, cost, bound, tol, t0, stopped, extra)

    def _result(
        self,
        solver: str,
        selected: np.ndarray,
        cost: float,
        bound: float,
        tol: float,
        t0: float,
        stopped_by: str | None,
        extra: dict[str, Any],
    ) -> SolveResult:
        bound_or_none = float(bound) if np.isfinite(bound) else None
        gap_val = _solvers.relative_gap(cost, bound_or_none)
        # 1e-9: the relative float tolerance the Lagrangian tests prune with
        proven = stopped_by is None and gap_val is not None and gap_val <= tol + 1.5e-9
        extra["recomputed_objective"] = cost
        chosen = np.sort(np.asarray(selected, dtype=np.int64))
        assignment = _assign(self.indptr, self.indices, self.data, self.shape[0], chosen)
        extra["assignment"] = assignment
        extra["load"] = _site_load(assignment, self.weights, len(chosen))
        seconds = time.perf_counter() - t0
        return SolveResult(
            model=self.name,
            selected=np.sort(np.asarray(selected, dtype=np.int64)),
            objective=cost,
            bound=bound_or_none,
            gap=gap_val,
            status="optimal" if proven else "feasible",
            solver=solver,
            solve_s=seconds,
            build_s=0.0,
            gap_tolerance=tol,
            stopped_by=None if proven else (stopped_by or "gap above tolerance"),
            extra=extra,
        )


def _rows(
    costs: np.ndarray | sp.sparray | sp.spmatrix,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """CSR arrays of a cost matrix, keeping every dense entry and every stored sparse one."""
    if sp.issparse(costs):
        m = sp.csr_array(costs)
        m.sum_duplicates()
        return (
            m.indptr.astype(np.int64),
            m.indices.astype(np.int64),
            m.data.astype(float),
            (int(m.shape[0]), int(m.shape[1])),
        )
    arr = np.asarray(costs, dtype=float)
    if arr.ndim != 2:
        raise InputError(f"costs: expected a 2-D matrix, got {arr.ndim} dimension(s)")
    n, m = arr.shape
    indptr = np.arange(0, n * m + 1, m, dtype=np.int64)
    return indptr, np.tile(np.arange(m, dtype=np.int64), n), arr.ravel().copy(), (n, m)


class CapacitatedCoverage(_SideConstraints):
    r"""Capacitated coverage with AC and DC stations: serve the most demand within reach.

    Each open site is an AC or a DC station with a daily capacity (from the queueing
    model, :mod:`siting.queueing`). AC demand may charge at either type, DC demand
    (taxis) only at DC stations, and only at sites within the threshold:

    .. math::

        \max \sum_i \sum_{j \in N_i} (a_i u_{ij} + d_i v_{ij})

    .. math::

        \sum_{j \in N_i} u_{ij} \le 1,\quad \sum_{j \in N_i} v_{ij} \le 1 \;\; \forall i,
        \qquad
        \sum_i a_i u_{ij} + \sum_i d_i v_{ij} \le K^{AC}_j y^{AC}_j + K^{DC}_j y^{DC}_j
        \;\; \forall j,

    .. math::

        u_{ij} \le y^{AC}_j + y^{DC}_j,\quad v_{ij} \le y^{DC}_j,\quad
        y^{AC}_j + y^{DC}_j \le 1,\quad \sum_j (y^{AC}_j + y^{DC}_j) = p,
        \quad y^{AC}_j + y^{DC}_j = 1 \;\; \forall j \in E,

    with binary :math:`y` and :math:`u, v \ge 0` the shares of point *i*'s AC and DC
    demand (:math:`a_i, d_i`, sessions/day) served at *j*. Every row is built from the
    sparse neighbour lists only. The capacity row alone already forbids serving at a
    closed site, and a per-site DC row :math:`\sum_i d_i v_{ij} \le K^{DC}_j y^{DC}_j`
    forbids serving DC demand at an AC station; the linking rows
    :math:`u_{ij} \le \dots` only tighten the LP bound and are optional
    (``link_rows``). An existing station of known type and capacity
    (``site_capacity``) keeps them; other existing sites get the type the model
    chooses. With a budget :math:`B` on new stations,
    :math:`\sum_{j \notin E} \sum_t c_t y^t_j \le B` and ``p`` bounds the count
    from above (existing stations are sunk costs).

    **Secondary order** (``secondary``): one objective, the demand served plus
    :math:`\lambda` times the terms below, with :math:`\lambda` so small that the
    secondary can move the served total by at most half the gap tolerance, solved to
    :data:`siting.settings.SECONDARY_GAP_FACTOR` of that tolerance so the secondary
    is resolved too (``secondary="cost"``: the cost term only). The terms

    .. math::

        \sum_i w_i z_i \;-\; \alpha \sum_{ij} (a_i u_{ij} + d_i v_{ij})\, t_{ij} / T
        \;-\; \beta \sum_{j \notin E} \sum_t c_t y^t_j / \bar c,
        \qquad z_i \le \sum_{j \in N_i} \sum_t y^t_j,

    are the demand within the threshold of a station, then the access time of the
    sessions served (:math:`t_{ij}` drive time, :math:`T` the longest; off by default,
    :math:`\alpha = 0`), then the capital cost (:math:`\bar c` the dearest station,
    :math:`\beta = 10^{-4}`; :data:`siting.settings.SECONDARY_WEIGHTS`). Without it,
    when every station is full many plans serve the same and the solver's path picks
    one of them.

    Parameters
    ----------
    neighbours
        Sparse (n_demand, n_sites) matrix marking pairs within the threshold.
    ac_demand, dc_demand
        Sessions per day per demand point needing AC (any port) and DC ports.
    capacity
        Sessions per day of an AC and of a DC station: ``{"AC": K_ac, "DC": K_dc}``;
        a type left out is not built.
    p
        Number of stations, fixed ones included.
    fixed
        Sites every plan keeps (their type is chosen by the model unless given in
        ``site_capacity``).
    link_rows
        Add the linking rows (tighter LP, many more rows).
    times
        Drive times (seconds) of the pairs in ``neighbours`` (same sparsity), for the
        access-time term of the secondary order.
    secondary
        Run the secondary stage above.
    site_capacity
        Fixed sites of known type and capacity: ``{site: ("DC", sessions/day)}``.
    max_dc, dc_exact
        At most (with ``dc_exact``: exactly) so many new DC stations; the points of
        the cost frontier (:mod:`siting.frontier`).
    budget, station_cost
        Optional budget and the capital cost of a new station of each type; the cost
        is also reported and, with ``secondary``, minimised last.
    """

    name = "capacitated"

    def __init__(
        self,
        neighbours: sp.sparray | sp.spmatrix,
        ac_demand: np.ndarray,
        dc_demand: np.ndarray,
        capacity: dict[str, float],
        p: int,
        *,
        fixed: np.ndarray | None = None,
        link_rows: bool = False,
        spacing_pairs: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        equity_share: float = 0.0,
        budget: float | None = None,
        station_cost: dict[str, float] | None = None,
        times: sp.sparray | sp.spmatrix | None = None,
        secondary: bool | Literal["cost"] = False,
        site_capacity: dict[int, tuple[str, float]] | None = None,
        max_dc: int | None = None,
        dc_exact: bool = False,
    ) -> None:
        self.link_rows = link_rows
        self.secondary = secondary
        self.max_dc = max_dc
        self.dc_exact = dc_exact and max_dc is not None
        self.last_secondary: dict[str, Any] | None = None
        self.budget = budget
        self.station_cost = dict(station_cost or {})
        nb = sp.csr_array(neighbours).astype(bool)
        nb.sum_duplicates()
        nb.sort_indices()
        self.neighbours = nb
        n_d, n_s = nb.shape
        self.times = _aligned_times(times, nb)
        self.ac = np.asarray(ac_demand, dtype=float)
        self.dc = np.asarray(dc_demand, dtype=float)
        _check_weights(self.ac, n_d)
        _check_weights(self.dc, n_d)
        unknown = set(capacity) - {"AC", "DC"}
        if unknown or not capacity:
            raise InputError(
                f"capacity: expected station types 'AC' and/or 'DC', got {sorted(capacity)}"
            )
        for t, k in capacity.items():
            if not np.isfinite(k) or k <= 0:
                raise InputError(f"capacity[{t!r}]: expected sessions/day > 0, got {k}")
        self.capacity = dict(capacity)
        self.p = int(p)
        self.fixed = np.unique(np.asarray(fixed if fixed is not None else [], dtype=np.int64))
        if len(self.fixed) and (self.fixed.min() < 0 or self.fixed.max() >= n_s):
            raise InputError(f"fixed: site indices must lie in [0, {n_s})")
        _check_p(self.p, n_s, len(self.fixed))
        self.fixed_set = set(self.fixed.tolist())
        self.site_capacity = _check_site_capacity(site_capacity, self.fixed)
        self.set_side_constraints(
            spacing_pairs=spacing_pairs,
            groups=groups,
            equity_share=equity_share,
            fixed=self.fixed,
            weights=self.ac + self.dc,
            reachable=np.diff(nb.indptr) > 0,
        )
        needs_cost = budget is not None or bool(self.station_cost)
        missing = [t for t in self.capacity if t not in self.station_cost]
        if needs_cost and missing:
            raise InputError(f"station_cost: no cost for station type(s) {', '.join(missing)}")
        if any(c < 0 or not np.isfinite(c) for c in self.station_cost.values()):
            raise InputError(f"station_cost: expected finite costs >= 0, got {self.station_cost}")
        if self.dc.sum() > 0 and "DC" not in self.capacity:
            warnings.warn(
                "capacity has no DC station type: DC demand cannot be served",
                UserWarning,
                stacklevel=2,
            )

    def site_types(self, j: int) -> list[str]:
        """Station types site ``j`` may take."""
        if j in self.site_capacity:
            return [self.site_capacity[j][0]]
        return [t for t in ("AC", "DC") if t in self.capacity]

    def capacity_of(self, j: int, t: str) -> float:
        """Sessions per day of site ``j`` as a station of type ``t``."""
        if j in self.site_capacity and self.site_capacity[j][0] == t:
            return float(self.site_capacity[j][1])
        return float(self.capacity.get(t, 0.0))

    def cost_of(self, j: int, t: str) -> float:
        """Capital cost of site ``j`` as a station of type ``t`` (existing ones: 0)."""
        if j in self.fixed_set:
            return 0.0
        return float(self.station_cost.get(t, 0.0))

    @classmethod
    def from_travel_times(
        cls,
        tt: TravelTimes,
        ac_demand: np.ndarray,
        dc_demand: np.ndarray,
        capacity: dict[str, float],
        p: int,
        *,
        threshold_s: float,
        fixed: np.ndarray | None = None,
        link_rows: bool = False,
        **side: Any,
    ) -> CapacitatedCoverage:
        """Build from the sparse drive times; pairs within ``threshold_s`` may be served."""
        if threshold_s > tt.cutoff_s:
            raise InputError(
                f"threshold_s ({threshold_s:.0f}) exceeds the matrix cutoff ({tt.cutoff_s:.0f})"
            )
        nb, times = _within_times(tt.matrix, threshold_s)
        return cls(
            nb,
            ac_demand,
            dc_demand,
            capacity,
            p,
            fixed=fixed,
            link_rows=link_rows,
            times=times,
            **side,
        )

    @classmethod
    def from_cost_matrix(
        cls,
        cost: np.ndarray | sp.sparray | sp.spmatrix,
        ac_demand: np.ndarray,
        dc_demand: np.ndarray,
        capacity: dict[str, float],
        p: int,
        *,
        threshold: float,
        fixed: np.ndarray | None = None,
        link_rows: bool = False,
        **options: Any,
    ) -> CapacitatedCoverage:
        """Build from a dense or sparse cost matrix; pairs with cost <= threshold may be served.

        Further keyword options (spacing, equity, budget) go to the constructor; the
        costs of the pairs within the threshold are the secondary order's access times.
        """
        nb, times = _within_times(cost, threshold)
        return cls(
            nb,
            ac_demand,
            dc_demand,
            capacity,
            p,
            fixed=fixed,
            link_rows=link_rows,
            **{"times": times, **options},
        )

    @classmethod
    def from_geodataframe(
        cls,
        demand: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        ac_col: str,
        dc_col: str,
        capacity: dict[str, float],
        p: int,
        *,
        threshold: float,
        fixed_col: str | None = None,
        **options: Any,
    ) -> CapacitatedCoverage:
        """Build from point layers: AC and DC demand columns, straight-line distances.

        Pairs within ``threshold`` (CRS units) may be served. Both layers must share a
        projected CRS; a geographic CRS draws a warning.
        """
        cost = _layer_distances(
            demand, sites, [ac_col, dc_col], "CapacitatedCoverage.from_geodataframe"
        )
        fixed = np.flatnonzero(sites[fixed_col].to_numpy(bool)) if fixed_col else None
        return cls(
            _within(cost, threshold),
            demand[ac_col].to_numpy(float),
            demand[dc_col].to_numpy(float),
            capacity,
            p,
            fixed=fixed,
            **options,
        )

    def greedy(self, *, stop_at: float | None = None, per_cost: bool = False) -> dict[str, Any]:
        """Greedy plan and assignment, the warm start of :meth:`solve`.

        Opens the fixed sites, then repeatedly the (site, type) that can serve the
        most demand still unserved within reach (capped by its capacity; with
        ``per_cost``, the most per unit of capital cost), within p, the budget and the
        spacing, until ``stop_at`` sessions/day are served if given. Each new station
        serves DC demand first, then AC demand, the same share of every reachable
        point. Deterministic.
        """
        nb = self.neighbours
        n_s = nb.shape[1]
        nb_t = nb.T.tocsr().astype(float)
        types = [t for t in ("AC", "DC") if t in self.capacity]
        ac, dc = self.ac.copy(), self.dc.copy()
        chosen: dict[int, str] = {}
        blocked = np.zeros(n_s, dtype=bool)
        partners: dict[int, list[int]] = {}
        for a, b in self.spacing_pairs.tolist():
            partners.setdefault(a, []).append(b)
            partners.setdefault(b, []).append(a)
        money = np.inf if self.budget is None else float(self.budget)
        plan: dict[str, Any] = {"types": chosen, "u": {}, "v": {}}

        def gains() -> dict[str, np.ndarray]:
            reach_ac, reach_dc = nb_t @ ac, nb_t @ dc
            return {
                t: np.minimum(
                    self.capacity.get(t, 0.0), reach_ac + (reach_dc if t == "DC" else 0.0)
                )
                for t in ("AC", "DC")
            }

        new_dc = 0

        def allocate(j: int, t: str, left: float) -> None:
            # ``left`` sessions/day of site j go to the demand still unserved in reach,
            # DC demand first (a DC station), the same share of every point
            pts = nb_t.indices[nb_t.indptr[j] : nb_t.indptr[j + 1]]
            for kind, residual, total in (("v", dc, self.dc), ("u", ac, self.ac)):
                if kind == "v" and t != "DC":
                    continue
                want = float(residual[pts].sum())
                if want <= 0 or left <= 0:
                    continue
                share = min(1.0, left / want)
                for i in pts[residual[pts] > 0].tolist():
                    key = (i, j)
                    plan[kind][key] = plan[kind].get(key, 0.0) + share * residual[i] / total[i]
                left -= share * want
                residual[pts] *= 1.0 - share

        def open_site(j: int, t: str) -> None:
            nonlocal money, new_dc
            chosen[j] = t
            new_dc += int(t == "DC" and j not in self.fixed_set)
            blocked[j] = True
            blocked[partners.get(j, [])] = True
            money -= self.cost_of(j, t) if self.budget is not None else 0.0
            allocate(j, t, self.capacity_of(j, t))

        def served() -> float:
            return float(self.ac.sum() + self.dc.sum() - ac.sum() - dc.sum())

        for j in self.fixed.tolist():
            g = gains()
            open_site(j, max(self.site_types(j), key=lambda t: (g[t][j], t == "DC")))
        while len(chosen) < self.p:
            g = gains()
            best: tuple[float, int, str] | None = None
            # with an exact number of new DC stations, the last places go to DC
            dc_only = self.dc_exact and self.p - len(chosen) <= (self.max_dc or 0) - new_dc
            for t in types:
                if t == "AC" and dc_only:
                    continue
                cand = np.where(blocked, -1.0, g[t])
                if per_cost and self.station_cost.get(t, 0.0) > 0:
                    cand = np.where(blocked, -1.0, g[t] / self.station_cost[t])
                if self.budget is not None:
                    cand[self.station_cost.get(t, 0.0) > money + 1e-9] = -1.0
                if t == "DC" and self.max_dc is not None and new_dc >= self.max_dc:
                    cand[:] = -1.0
                j = int(np.argmax(cand))
                if cand[j] >= 0 and (best is None or cand[j] > best[0]):
                    best = (float(cand[j]), j, t)
            if best is None:
                break
            open_site(best[1], best[2])
            if stop_at is not None and served() >= stop_at:
                break
        # short of stop_at with no site left to open: upgrade new AC stations to DC
        # (more capacity, and DC demand in reach), the most served first
        extra = self.capacity.get("DC", 0.0) - self.capacity.get("AC", 0.0)
        while stop_at is not None and served() < stop_at and extra > 0 and self.max_dc is None:
            step = self.station_cost.get("DC", 0.0) - self.station_cost.get("AC", 0.0)
            ups = np.array(
                [j for j, t in chosen.items() if t == "AC" and j not in self.fixed_set],
                dtype=np.int64,
            )
            if not len(ups) or (self.budget is not None and step > money + 1e-9):
                break
            gain = np.minimum(extra, (nb_t @ ac + nb_t @ dc)[ups])
            j = int(ups[np.argmax(gain)])
            if gain.max() <= 1e-12:
                break
            chosen[j] = "DC"
            money -= step if self.budget is not None else 0.0
            allocate(j, "DC", extra)
        return plan

    def build(
        self,
        *,
        floor: float | None = None,
        start: dict[str, Any] | None = None,
        mode: Literal["secondary", "cost", "stations"] = "secondary",
        weight: float | None = None,
    ) -> tuple[pulp.LpProblem, dict[str, list[pulp.LpVariable]], dict[str, Any]]:
        """The PuLP problem, its site variables per type, and the assignment variables.

        With ``weight``, the objective is the demand served plus ``weight`` times the
        secondary order. With ``floor``, serve at least ``floor`` sessions/day and, by
        ``mode``, maximise the secondary order or minimise the capital cost or the
        number of stations (the minimum plan, with ``p`` an upper bound; see
        :class:`siting.minimum.MinimumPlan`).
        """
        # one long function on purpose: the rows share the variable lists built here
        nb = self.neighbours
        n_d, n_s = nb.shape
        prob = pulp.LpProblem(self.name, pulp.LpMaximize)
        types: list[str] = sorted({t for j in range(n_s) for t in self.site_types(j)})
        y: dict[str, list[pulp.LpVariable]] = {}
        for t in types:
            y[t] = [
                prob.add_variable(
                    f"y{t}_{j}",
                    lowBound=0,
                    upBound=1 if t in self.site_types(j) else 0,
                    cat=pulp.LpInteger,
                )
                for j in range(n_s)
            ]
        for j in range(n_s):
            both = pulp.LpAffineExpression([(y[t][j], 1.0) for t in types])
            if j in self.fixed_set:
                prob += pulp.LpConstraint(both, pulp.LpConstraintEQ, f"fixed_{j}", 1.0)
            elif len(types) > 1:
                prob += pulp.LpConstraint(both, pulp.LpConstraintLE, f"one_type_{j}", 1.0)
        # with a budget, p is an upper bound on the number of stations
        at_most = self.budget is not None or (floor is not None and mode != "secondary")
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression([(v, 1.0) for t in types for v in y[t]]),
            pulp.LpConstraintLE if at_most else pulp.LpConstraintEQ,
            "p_sites",
            float(self.p),
        )
        cost_terms = [
            (y[t][j], self.cost_of(j, t))
            for t in types
            for j in range(n_s)
            if self.cost_of(j, t) > 0 and t in self.site_types(j)
        ]
        if self.max_dc is not None and ("DC" in y or self.dc_exact):
            new_dc = [
                (y["DC"][j], 1.0) for j in range(n_s) if "DC" in y and j not in self.fixed_set
            ]
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(new_dc),
                pulp.LpConstraintEQ if self.dc_exact else pulp.LpConstraintLE,
                "max_dc",
                float(self.max_dc),
            )
        if self.budget is not None:
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(cost_terms),
                pulp.LpConstraintLE,
                "budget",
                float(self.budget),
            )
        load: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_s)]
        dc_load: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_s)]
        objective: list[tuple[pulp.LpVariable, float]] = []
        access: list[tuple[pulp.LpVariable, float]] = []
        assign: dict[str, Any] = {"u": {}, "v": {}}
        for i in range(n_d):
            lo, hi = nb.indptr[i], nb.indptr[i + 1]
            js = nb.indices[lo:hi].tolist()
            if not js:
                continue
            for kind, amount in (("u", self.ac[i]), ("v", self.dc[i])):
                if amount <= 0 or (kind == "v" and "DC" not in types):
                    continue
                xs = []
                for k, j in enumerate(js):
                    x = prob.add_variable(f"{kind}_{i}_{j}", lowBound=0, upBound=1)
                    xs.append(x)
                    assign[kind][(i, j)] = x
                    load[j].append((x, float(amount)))
                    if kind == "v":
                        dc_load[j].append((x, float(amount)))
                    objective.append((x, float(amount)))
                    if self.times is not None:
                        access.append((x, float(amount) * float(self.times[lo + k])))
                    if self.link_rows:
                        allowed = ["DC"] if kind == "v" else types
                        link = [(x, 1.0)] + [(y[t][j], -1.0) for t in allowed]
                        prob += pulp.LpConstraint(
                            pulp.LpAffineExpression(link),
                            pulp.LpConstraintLE,
                            f"link_{kind}_{i}_{j}",
                            0.0,
                        )
                prob += pulp.LpConstraint(
                    pulp.LpAffineExpression([(x, 1.0) for x in xs]),
                    pulp.LpConstraintLE,
                    f"share_{kind}_{i}",
                    1.0,
                )
        for j in range(n_s):
            if not load[j]:
                continue
            cap = [(y[t][j], -self.capacity_of(j, t)) for t in types if t in self.site_types(j)]
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(load[j] + cap), pulp.LpConstraintLE, f"capacity_{j}", 0.0
            )
            if dc_load[j]:
                # DC demand only at a DC station (v_ij <= y^DC_j, aggregated per site)
                prob += pulp.LpConstraint(
                    pulp.LpAffineExpression(
                        dc_load[j] + [(y["DC"][j], -self.capacity_of(j, "DC"))]
                    ),
                    pulp.LpConstraintLE,
                    f"dc_capacity_{j}",
                    0.0,
                )
        served: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
        for kind, amounts in (("u", self.ac), ("v", self.dc)):
            for (i, _), x in assign[kind].items():
                served.setdefault(i, []).append((x, float(amounts[i])))
        opened = [pulp.LpAffineExpression([(y[t][j], 1.0) for t in types]) for j in range(n_s)]
        self.add_side_constraints(prob, opened, served, self.ac + self.dc)
        if floor is None and weight is None:
            prob += pulp.LpAffineExpression(objective), "served"
        elif floor is None:
            # served plus the secondary order, weighted so that it can move the served
            # total by at most half the gap tolerance (see the class docstring)
            terms = self._secondary_terms(prob, y, assign, access, cost_terms)
            lam = float(weight or 0.0)
            prob += (
                _summed(objective + [(v, lam * c) for v, c in terms]),
                "served",
            )
        else:
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(objective), pulp.LpConstraintGE, "served_floor", floor
            )
            if mode == "secondary":
                terms = self._secondary_terms(prob, y, assign, access, cost_terms)
                prob += _summed(terms), "secondary"
            else:
                prob.sense = pulp.LpMinimize
                new_sites = [
                    (y[t][j], 1.0) for t in types for j in range(n_s) if j not in self.fixed_set
                ]
                if mode == "cost":
                    # least cost, then (a tie-break worth less than any cost step) fewer sites
                    top = max((c for _, c in cost_terms), default=0.0)
                    tiny = 1e-6 * top if top > 0 else 1.0
                    terms = cost_terms + [(v, tiny) for v, _ in new_sites]
                else:
                    top = max((c for _, c in cost_terms), default=0.0)
                    terms = new_sites + [(v, 1e-4 * c / top) for v, c in cost_terms if top > 0]
                prob += _summed(terms), mode
        if start is not None:
            self._warm(y, assign, start)
        return prob, y, assign

    def _secondary_terms(
        self,
        prob: pulp.LpProblem,
        y: dict[str, list[pulp.LpVariable]],
        assign: dict[str, Any],
        access: list[tuple[pulp.LpVariable, float]],
        cost_terms: list[tuple[pulp.LpVariable, float]],
    ) -> list[tuple[pulp.LpVariable, float]]:
        """Objective terms of the secondary order, adding the cover variables z_i."""
        nb = self.neighbours
        alpha, beta = settings.SECONDARY_WEIGHTS
        w = self.ac + self.dc
        terms: list[tuple[pulp.LpVariable, float]] = []
        for i in range(nb.shape[0]) if self.secondary != "cost" else []:
            js = nb.indices[nb.indptr[i] : nb.indptr[i + 1]].tolist()
            if not js or w[i] <= 0:
                continue
            z = prob.add_variable(f"z_{i}", lowBound=0, upBound=1)
            terms.append((z, float(w[i])))
            row = [(z, 1.0)] + [(y[t][j], -1.0) for t in y for j in js]
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(row), pulp.LpConstraintLE, f"cover_{i}", 0.0
            )
            assign.setdefault("z", {})[i] = z
        scale_t = float(self.times.max()) if self.times is not None and len(self.times) else 1.0
        terms += [(x, -alpha * c / max(scale_t, 1e-9)) for x, c in access]
        top = max((c for _, c in cost_terms), default=0.0)
        if top > 0:
            terms += [(v, -beta * c / top) for v, c in cost_terms]
        return terms

    def _warm(
        self, y: dict[str, list[pulp.LpVariable]], assign: dict[str, Any], start: dict[str, Any]
    ) -> None:
        for t, vs in y.items():
            for j, v in enumerate(vs):
                v.setInitialValue(1.0 if start["types"].get(j) == t else 0.0)
        for kind in ("u", "v"):
            for key, x in assign[kind].items():
                x.setInitialValue(min(1.0, max(0.0, start[kind].get(key, 0.0))))
        nb = self.neighbours
        for i, z in assign.get("z", {}).items():
            js = nb.indices[nb.indptr[i] : nb.indptr[i + 1]].tolist()
            z.setInitialValue(1.0 if any(j in start["types"] for j in js) else 0.0)

    #: Solve this instance as given (no row merging or candidate reduction).
    _direct = False

    def _solve_large(
        self,
        solver: str | None,
        *,
        time_limit: float | None,
        gap: float | None,
        threads: int | None,
        msg: bool,
    ) -> SolveResult:
        """A large instance: merged rows, bounds over every candidate, MIP on the best.

        1. Points with the same sites in reach are merged (exact: shares of a merged
           point split back in proportion).
        2. Two bounds hold for every plan over all candidates: served demand is at
           most the demand covered (Lagrangian bound of the covering model, see
           ``siting._cover``) and at most the sum, over the ``p`` best sites, of
           ``min(capacity, demand in reach)``.
        3. The integer program runs on a reduced candidate set (the greedy and
           covering plans' sites, the existing ones and the
           ``settings.CANDIDATES_PER_STATION * p`` sites of highest bound), warm
           started from the greedy plan. Its plan is feasible for the full problem;
           the gap is measured against the bound of step 2, so it is honest even
           though the reduced set might miss a better plan.
        """
        t0 = time.perf_counter()
        _, tol = _solvers.check_options(solver, time_limit, gap)
        nb = self.neighbours
        n_d, n_s = nb.shape
        live = (np.diff(nb.indptr) > 0) & ((self.ac + self.dc) > 0)
        rows, rep_of = _same_rows(nb, live, None)
        ac = np.bincount(rep_of[live], weights=self.ac[live], minlength=n_d)[rows]
        dc = np.bincount(rep_of[live], weights=self.dc[live], minlength=n_d)[rows]
        sub = sp.csr_array(nb[rows])
        w = ac + dc
        # bound 1: capacity of the p best sites, each limited to the demand in its reach
        nb_t = sp.csr_array(sub, dtype=np.float64).T.tocsr()
        value = np.zeros(n_s)
        if "AC" in self.capacity:
            value = np.maximum(value, np.minimum(self.capacity["AC"], nb_t @ ac))
        if "DC" in self.capacity:
            value = np.maximum(value, np.minimum(self.capacity["DC"], nb_t @ w))
        free = np.ones(n_s, dtype=bool)
        free[self.fixed] = False
        n_free = self.p - len(self.fixed)
        free_values = np.sort(value[free])[::-1]
        bound_capacity = float(value[self.fixed].sum() + free_values[:n_free].sum())
        # bound 2: the demand the best plan could cover at all
        budget_s = 0.15 * time_limit if time_limit else 20.0
        cov_rows, cov_w, by_fixed = _cover_rows(sub, w, self.fixed, None)
        constant = float(w[by_fixed].sum())
        cov_nb, cov_weights = sub[cov_rows], cov_w[cov_rows]
        cover_model = MaximalCovering(sub, w, self.p, fixed=self.fixed)
        cover_plan = _cover.swap(
            cov_nb, cov_weights, cover_model.greedy(), self.fixed, time_limit=budget_s
        )
        is_open = np.zeros(n_s, dtype=bool)
        is_open[cover_plan] = True
        lag = _cover.lagrangian_bound(
            cov_nb,
            cov_weights,
            n_free,
            free,
            _cover.coverage(cov_nb, cov_weights, is_open),
            time_limit=budget_s,
        )
        bound_coverage = constant + lag.value
        upper = min(bound_capacity, bound_coverage)
        # the integer program on the most promising candidates
        merged = CapacitatedCoverage(sub, ac, dc, self.capacity, self.p, fixed=self.fixed)
        start = merged.greedy()
        n_keep = settings.CANDIDATES_PER_STATION * self.p
        ranked = np.argsort(-value, kind="stable")[:n_keep]
        keep = np.unique(
            np.concatenate(
                [self.fixed, np.fromiter(start["types"], dtype=np.int64), cover_plan, ranked]
            )
        )
        heuristic_s = time.perf_counter() - t0
        log.info(
            "capacitated: %d points merged into %d rows; bounds: capacity %.6g, coverage %.6g; "
            "integer program on %d of %d candidates (%.2f s so far)",
            int(live.sum()),
            len(rows),
            bound_capacity,
            bound_coverage,
            len(keep),
            n_s,
            heuristic_s,
        )
        cols = sp.csr_array(sub[:, keep])
        restricted = CapacitatedCoverage(
            cols,
            ac,
            dc,
            self.capacity,
            self.p,
            fixed=np.searchsorted(keep, self.fixed),
            station_cost=self.station_cost,
        )
        restricted._direct = True
        left = None if time_limit is None else max(1.0, time_limit - heuristic_s)
        res = restricted.solve(solver, time_limit=left, gap=gap, threads=threads, msg=msg)
        selected = keep[res.selected]
        bound = upper
        if len(keep) == n_s and res.bound is not None:
            bound = min(upper, res.bound)
        g = _solvers.relative_gap(res.objective, bound)
        proven = (len(keep) == n_s and res.status == "optimal") or (
            g is not None and g <= tol + 1e-9
        )
        status = "optimal" if proven else "feasible"
        stopped = None
        if status != "optimal":
            stopped = res.stopped_by or (
                f"bound over all candidates; integer program on {len(keep)} of {n_s}"
            )
        extra = {
            **self._unmerged(res.extra, rows, rep_of, ac, dc),
            "scale": {
                "points_merged": int(live.sum()),
                "rows": len(rows),
                "candidates_kept": len(keep),
                "bound_capacity": bound_capacity,
                "bound_coverage": bound_coverage,
                "lagrangian_steps": lag.iterations,
                "reduced_bound": res.bound,
                "heuristic_s": round(heuristic_s, 3),
            },
        }
        return dataclasses.replace(
            res,
            selected=selected,
            bound=bound,
            gap=g,
            status=status,
            build_s=res.build_s + heuristic_s,
            gap_tolerance=tol,
            stopped_by=stopped,
            extra=extra,
        )

    def solve(
        self,
        solver: str | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> SolveResult:
        """Solve with HiGHS (default) or CBC; see :meth:`MaximalCovering.solve`.

        ``extra`` holds per selected site: ``types``, ``load`` (sessions/day),
        ``capacity`` and ``utilisation``; and ``served_ac``, ``served_dc`` per point.
        """
        pairs = int(self.neighbours.nnz) * (2 if "DC" in self.capacity else 1)
        large = pairs > settings.CAPACITATED_DIRECT_PAIRS
        if large and not self._direct and self._plain() and not self.site_capacity:
            if self.secondary:
                # the secondary order needs the whole model, which at this size takes
                # longer to build than the time limit: the large path without it
                log.info(
                    "capacitated: %d assignment pairs (over %d): secondary order off, "
                    "large-instance path",
                    pairs,
                    settings.CAPACITATED_DIRECT_PAIRS,
                )
                plain = copy.copy(self)
                plain.secondary = False
                res = plain._solve_large(
                    solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg
                )
                res.extra["secondary"] = {
                    "order": "off: the instance is above settings.CAPACITATED_DIRECT_PAIRS",
                    "status": "not applied",
                }
                return res
            return self._solve_large(
                solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg
            )
        merged = None if self._direct else self._merged()
        if merged is not None:
            model, rows, rep_of = merged
            res = model.solve(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
            self.last_secondary = model.last_secondary
            return dataclasses.replace(
                res, extra=self._unmerged(res.extra, rows, rep_of, model.ac, model.dc)
            )
        t0 = time.perf_counter()
        _, tol = _solvers.check_options(solver, time_limit, gap)
        start0 = self.greedy()
        greedy_served = self.plan_served(start0)
        weight, slack = None, 0.0
        solve_gap = gap
        if self.secondary:
            weight, slack = self._secondary_weight(greedy_served, tol)
            solve_gap = tol * settings.SECONDARY_GAP_FACTOR
        prob, y, assign = self.build(start=start0, weight=weight)
        build_s = time.perf_counter() - t0
        # the time limit covers building the model too
        limit = None if time_limit is None else max(1.0, time_limit - build_s)
        info = _solvers.run(prob, solver, time_limit=limit, gap=solve_gap, threads=threads, msg=msg)
        if info.status == "infeasible":
            raise InfeasibleError(self.explain_infeasible(f"capacitated coverage (p={self.p})"))
        status, stopped = info.status, info.stopped_by
        self.last_secondary = None
        if weight is not None:
            secondary = info.objective - self._served_value(assign)
            # any plan serves at most the combined bound less its own secondary terms,
            # which are at least -slack
            bound = None if info.bound is None else info.bound / 1.0 + weight * slack
            self.last_secondary = {
                "order": "demand within the threshold, then capital cost",
                "weight": weight,
                "value": secondary / weight,
                "combined_gap": info.gap,
                "status": info.status,
            }
            info = dataclasses.replace(info, bound=bound, gap_tolerance=tol)
            if info.status == "optimal":
                # proven to the tighter gap of the combined objective; the served total
                # is within the tolerance of its bound
                g = _solvers.relative_gap(self._served_value(assign), bound)
                ok = max(tol, settings.SECONDARY_MIN_TOLERANCE) + 1e-12
                status = "optimal" if g is not None and g <= ok else "feasible"
        return self._result(y, assign, info, status, stopped, info.seconds, build_s, greedy_served)

    def _merged(self) -> tuple[CapacitatedCoverage, np.ndarray, np.ndarray] | None:
        """The same instance with the points of identical reach merged into one row.

        Exact: a merged point's shares split back in proportion, its cover variable
        stands for all of them. Not applied where points differ beyond their reach
        (district equity rows, access times in the secondary order) or where fewer
        than a tenth of the rows would go. Returns (model, representative rows,
        representative of every point) or None.
        """
        if self.groups is not None and self.equity_share > 0:
            return None
        if self.times is not None and settings.SECONDARY_WEIGHTS[0] > 0:
            return None
        nb = self.neighbours
        n_d = nb.shape[0]
        live = (np.diff(nb.indptr) > 0) & ((self.ac + self.dc) > 0)
        rows, rep_of = _same_rows(nb, live, None)
        if len(rows) > 0.9 * live.sum():
            return None
        # a shallow copy keeps every option and side constraint (all per site);
        # only the per-point arrays change
        model = copy.copy(self)
        model.neighbours = sp.csr_array(nb[rows])
        model.ac = np.bincount(rep_of[live], weights=self.ac[live], minlength=n_d)[rows]
        model.dc = np.bincount(rep_of[live], weights=self.dc[live], minlength=n_d)[rows]
        model.times = None
        model.groups = None
        model._direct = True
        log.info("capacitated: %d points merged into %d rows", int(live.sum()), len(rows))
        return model, rows, rep_of

    def _unmerged(
        self,
        x: dict[str, Any],
        rows: np.ndarray,
        rep_of: np.ndarray,
        ac: np.ndarray,
        dc: np.ndarray,
    ) -> dict[str, Any]:
        """A merged model's per-point figures back on this model's points, in proportion."""
        pos = np.searchsorted(rows, np.where(rep_of >= 0, rep_of, rows[0] if len(rows) else 0))
        frac_ac = np.divide(x["served_ac"], ac, out=np.zeros(len(rows)), where=ac > 0)
        frac_dc = np.divide(x["served_dc"], dc, out=np.zeros(len(rows)), where=dc > 0)
        served_ac = np.where(rep_of >= 0, frac_ac[pos] * self.ac, 0.0) if len(rows) else self.ac * 0
        served_dc = np.where(rep_of >= 0, frac_dc[pos] * self.dc, 0.0) if len(rows) else self.dc * 0
        return {
            **x,
            "assignment": _expand_assignment(
                x["assignment"], rep_of, pos, ac, dc, self.ac, self.dc
            ),
            "served_ac": served_ac,
            "served_dc": served_dc,
            "demand_total": float(self.ac.sum() + self.dc.sum()),
        }

    def plan_served(self, plan: dict[str, Any]) -> float:
        """Sessions per day a plan of :meth:`greedy` serves."""
        return float(
            sum(self.ac[i] * x for (i, _), x in plan["u"].items())
            + sum(self.dc[i] * x for (i, _), x in plan["v"].items())
        )

    def _served_value(self, assign: dict[str, Any]) -> float:
        return float(
            sum(max(0.0, x.varValue or 0.0) * self.ac[i] for (i, _), x in assign["u"].items())
            + sum(max(0.0, x.varValue or 0.0) * self.dc[i] for (i, _), x in assign["v"].items())
        )

    def _secondary_weight(self, served_floor: float, tol: float) -> tuple[float, float]:
        """Weight of the secondary order and the most its negative terms can subtract.

        The secondary terms of any plan lie in ``[-slack, W]`` (``W`` all demand);
        with ``weight × (W + slack) <= tol / 2 × served`` the combined optimum serves
        within half the tolerance of the most served.
        """
        alpha, beta = settings.SECONDARY_WEIGHTS
        total = float(self.ac.sum() + self.dc.sum())
        slack = alpha * total + beta * self.p
        scale = max(served_floor, 1e-9 * max(total, 1.0))
        tol = max(tol, settings.SECONDARY_MIN_TOLERANCE)
        return 0.5 * tol * scale / max(total + slack, 1e-12), slack

    def _result(
        self,
        y: dict[str, list[pulp.LpVariable]],
        assign: dict[str, Any],
        info: _solvers.SolveInfo,
        status: str,
        stopped: str | None,
        seconds: float,
        build_s: float,
        greedy_served: float,
        *,
        exact_p: bool = True,
    ) -> SolveResult:
        """Read the plan and its one assignment of demand to stations."""
        n_d, n_s = self.neighbours.shape
        site_type = np.full(n_s, "", dtype=object)
        for t, vs in y.items():
            for j, v in enumerate(vs):
                if (v.varValue or 0.0) > 0.5:
                    site_type[j] = t
        selected = np.flatnonzero(site_type != "")
        pos = np.full(n_s, -1, dtype=np.int64)
        pos[selected] = np.arange(len(selected))
        rows, cols, vals, kinds = [], [], [], []
        for kind, amounts in (("u", self.ac), ("v", self.dc)):
            for (i, j), x in assign[kind].items():
                val = max(0.0, x.varValue or 0.0) * amounts[i]
                if val > 1e-9 and pos[j] >= 0:
                    rows.append(i)
                    cols.append(int(pos[j]))
                    vals.append(val)
                    kinds.append(kind)
        r, c, v = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals)
        is_dc = np.array([k == "v" for k in kinds], dtype=bool).reshape(-1)
        load = np.bincount(c, weights=v, minlength=len(selected))
        served_ac = np.bincount(r[~is_dc], weights=v[~is_dc], minlength=n_d)
        served_dc = np.bincount(r[is_dc], weights=v[is_dc], minlength=n_d)
        types = site_type[selected].astype(str)
        cap = np.array([self.capacity_of(int(j), t) for j, t in zip(selected, types, strict=True)])
        cost = np.array([self.cost_of(int(j), t) for j, t in zip(selected, types, strict=True)])
        served = float(load.sum())
        extra = {
            "types": types,
            "load": load,
            "capacity": cap,
            "utilisation": np.divide(load, cap, out=np.zeros(len(cap)), where=cap > 0),
            "served_ac": served_ac,
            "served_dc": served_dc,
            # the model's one assignment: demand point, position in selected, sessions/day
            # and whether they are DC sessions
            "assignment": (r, c, v, is_dc),
            "demand_total": float(self.ac.sum() + self.dc.sum()),
            "secondary": self.last_secondary,
            "heuristic_objective": greedy_served,
            "station_cost": cost,
            "cost": float(cost.sum()),
        }
        if exact_p and self.budget is None and len(selected) != self.p:
            raise InfeasibleError(f"solver returned {len(selected)} sites, expected p={self.p}")
        g = _solvers.relative_gap(served, info.bound)
        info = dataclasses.replace(info, objective=served, gap=g, seconds=seconds)
        info = dataclasses.replace(info, status=status, stopped_by=stopped)
        return SolveResult.from_info(self.name, selected, info, build_s, extra)


def _summed(terms: list[tuple[pulp.LpVariable, float]]) -> pulp.LpAffineExpression:
    """An expression from (variable, coefficient) terms, adding up repeated variables
    (``LpAffineExpression`` of a list keeps only the last coefficient of each)."""
    coef: dict[str, float] = {}
    var: dict[str, pulp.LpVariable] = {}
    for v, c in terms:
        coef[v.name] = coef.get(v.name, 0.0) + c
        var[v.name] = v
    return pulp.LpAffineExpression([(var[k], c) for k, c in coef.items()])


def _expand_assignment(
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rep_of: np.ndarray,
    pos: np.ndarray,
    row_ac: np.ndarray,
    row_dc: np.ndarray,
    ac: np.ndarray,
    dc: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split an assignment of merged rows back to their points, in proportion."""
    r, c, v, is_dc = assignment
    points = np.flatnonzero(rep_of >= 0)
    group = pos[points]
    out_r, out_c, out_v, out_k = [], [], [], []
    for kind_dc, amounts, totals in ((False, ac, row_ac), (True, dc, row_dc)):
        sel = is_dc == kind_dc
        share = np.divide(
            amounts[points], totals[group], out=np.zeros(len(points)), where=totals[group] > 0
        )
        # points of each group (CSR by group), then every (group, site, value) entry
        m = sp.csr_array((share, (group, points)), shape=(len(totals), len(amounts)))
        entries = sp.csr_array(
            (v[sel], (r[sel], c[sel])), shape=(len(totals), int(c.max(initial=-1)) + 1)
        )
        split = sp.coo_array(m.T @ entries)
        out_r.append(split.row)
        out_c.append(split.col)
        out_v.append(split.data)
        out_k.append(np.full(len(split.data), kind_dc))
    return (
        np.concatenate(out_r).astype(np.int64),
        np.concatenate(out_c).astype(np.int64),
        np.concatenate(out_v).astype(float),
        np.concatenate(out_k).astype(bool),
    )


def _values(y: dict[str, list[pulp.LpVariable]], assign: dict[str, Any]) -> dict[str, Any]:
    """A solved plan as a warm start."""
    return {
        "types": {
            j: t for t, vs in y.items() for j, v in enumerate(vs) if (v.varValue or 0.0) > 0.5
        },
        "u": {k: min(1.0, max(0.0, x.varValue or 0.0)) for k, x in assign["u"].items()},
        "v": {k: min(1.0, max(0.0, x.varValue or 0.0)) for k, x in assign["v"].items()},
    }


@dataclass
class Phase:
    """One stage of a nested plan."""

    p: int
    selected: np.ndarray
    objective: float
    independent_objective: float
    cost_of_nesting: float
    status: str
    independent_status: str
    result: SolveResult


def phased_plan(
    make_model: Callable[[int, np.ndarray], Any],
    sizes: list[int],
    fixed: np.ndarray,
    *,
    maximize: bool,
    solver: str | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
    threads: int | None = None,
) -> list[Phase]:
    """Nested plans for growing sizes (e.g. 150 → 311 → 400), and what nesting costs.

    Stage *k* keeps every site of stage *k − 1* fixed and adds ``sizes[k] − sizes[k−1]``
    sites (sequential nesting). Each size is also solved alone, with only ``fixed``
    kept; the cost of nesting is the share of the independent objective lost,
    ``(independent − nested) / independent`` for a maximisation (the reverse for a
    minimisation), 0 when nesting loses nothing.

    Parameters
    ----------
    make_model
        ``make_model(p, fixed)`` returns a model with ``solve``.
    sizes
        Strictly increasing station counts, each at least ``len(fixed)``.
    fixed
        Sites every stage keeps (existing stations).
    maximize
        Whether the model's objective is maximised.
    """
    if not sizes or any(b <= a for a, b in itertools.pairwise(sizes)):
        raise InputError(f"optimize.phases: expected strictly increasing sizes, got {sizes}")
    if sizes[0] < len(fixed):
        raise InfeasibleError(
            f"optimize.phases: the first phase ({sizes[0]}) is smaller than the "
            f"{len(fixed)} existing stations"
        )
    opts = {"solver": solver, "time_limit": time_limit, "gap": gap, "threads": threads}
    phases: list[Phase] = []
    keep = np.asarray(fixed, dtype=np.int64)
    for p in sizes:
        nested = make_model(p, keep).solve(**opts)
        alone = make_model(p, np.asarray(fixed, dtype=np.int64)).solve(**opts)
        ind, nes = alone.objective, nested.objective
        lost = (ind - nes) if maximize else (nes - ind)
        cost = lost / abs(ind) if abs(ind) > 1e-12 else 0.0
        phases.append(
            Phase(p, nested.selected, nes, ind, cost, nested.status, alone.status, nested)
        )
        keep = nested.selected
    return phases
