"""The maximal covering model (MCLP).

The class, its formulation, input checks and constructors; its integer program is
built in :mod:`siting.optimize.covering._rows`, and its solve in steps and its
second stage are in :mod:`siting.optimize.covering._solve`.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pulp
import scipy.sparse as sp

from siting._io import check_projected
from siting.errors import InfeasibleError, InputError
from siting.optimize._checks import (
    _fixed_sites,
    check_count,
    check_p,
    check_pairs_matrix,
    check_threshold_s,
    check_values,
)
from siting.optimize._common import _aligned_times, _assign, _site_load, _within_times
from siting.optimize._side import _SideConstraints
from siting.optimize._types import DriveTimes
from siting.optimize.covering import _heuristics, _rows, _solve
from siting.optimize.options import SolveOptions
from siting.optimize.result import SolveResult

log = logging.getLogger(__name__)


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
        nb = check_pairs_matrix(neighbours, "neighbours")
        nb.sum_duplicates()
        self.neighbours = nb
        self.costs = None
        if costs is not None:
            c = check_pairs_matrix(costs, "costs")
            c.sort_indices()
            nb.sort_indices()
            if c.shape != nb.shape or not (
                np.array_equal(c.indptr, nb.indptr) and np.array_equal(c.indices, nb.indices)
            ):
                raise InputError("costs: expected the same sparsity pattern as neighbours")
            _aligned_times(c, nb, "costs")  # finite times >= 0
            self.costs = c
        #: Pair times (same pattern), used only to group points for the decomposition.
        self.pair_times: sp.csr_array | None = self.costs
        n_d, n_s = nb.shape
        self.weights = check_values(weights, n_d, "weights")
        self.p = check_count(p, "p")
        self.fixed = _fixed_sites(fixed, n_s)
        check_p(self.p, n_s, len(self.fixed))
        self.set_side_constraints(
            spacing_pairs=spacing_pairs,
            groups=groups,
            equity_share=equity_share,
            fixed=self.fixed,
            weights=self.weights,
            reachable=np.diff(nb.indptr) > 0,
            n_sites=n_s,
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
        nb, times = _within_times(cost, threshold)
        model = cls(nb, weights, p, fixed=fixed)
        model.pair_times = times
        return model

    @classmethod
    def from_travel_times(
        cls,
        tt: DriveTimes,
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
        threshold_s = check_threshold_s(threshold_s, tt.cutoff_s)
        nb = tt.neighbours(threshold_s)
        m = tt.matrix
        keep = m.data <= threshold_s
        times = sp.csr_array((m.data[keep], nb.indices, nb.indptr), shape=nb.shape)
        model = cls(nb, weights, p, fixed=fixed, costs=times if tie_break else None, **side)
        model.pair_times = times
        return model

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
        """Greedy plan: fixed sites, then repeatedly the site adding most coverage
        (within the budget, if any).

        Deterministic (ties go to the lowest index); used as the warm start.
        """
        budget = np.inf if self.budget is None else self.budget
        cost = None if self.budget is None else self.site_cost
        return _heuristics.greedy(
            self.neighbours, self.weights, self.fixed, self.p, site_cost=cost, budget=budget
        )

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
        return _rows.build(self, min_coverage=min_coverage, start=start)

    def solve(
        self,
        solver: str | SolveOptions | None = None,
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
            ``"highs"`` or ``"cbc"``, or a :class:`~siting.optimize.SolveOptions`
            (then the keywords given beside it replace its fields).
        time_limit
            Seconds; a solve stopped by it is reported ``feasible`` with its gap.
        gap
            Relative optimality gap at which the solver may stop (default 1e-4).
        threads
            Solver threads.
        msg
            Show the solver's log.
        """
        o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        info, selected, build_s, extra = _solve.first_stage(self, o)
        status, stopped, bound, gap_v = info.status, info.stopped_by, info.bound, info.gap
        if self.costs is not None:  # lexicographic stage 2: least access time
            selected, info, stage2_s, stopped_2 = _solve.second_stage(
                self, info, selected, o, extra
            )
            build_s += stage2_s
            if stopped_2 is not None:
                status, stopped = "feasible", stopped_2
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
        result = SolveResult.from_info(
            self.name,
            selected,
            info,
            build_s,
            extra,
            bound=bound,
            gap=gap_v,
            status=status,
            stopped_by=stopped,
        )
        if self.site_cost is not None:
            extra["cost"] = float(self.site_cost[selected].sum())
        elif len(selected) != self.p:
            raise InfeasibleError(f"solver returned {len(selected)} sites, expected p={self.p}")
        return result
