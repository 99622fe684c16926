"""Capacitated coverage with AC and DC stations (the pipeline's default model)."""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pulp
import scipy.sparse as sp

from siting import _solvers, settings
from siting._errors import InfeasibleError, InputError
from siting.optimize import _capacitated_rows as _rows
from siting.optimize._common import (
    _aligned_times,
    _check_p,
    _check_site_capacity,
    _check_weights,
    _expand_assignment,
    _layer_distances,
    _same_rows,
    _summed,
    _within,
    _within_times,
)
from siting.optimize._greedy import greedy_plan
from siting.optimize._inputs import existing_sites, side_options
from siting.optimize._large import solve_large
from siting.optimize._side import _SideConstraints
from siting.optimize.result import SolveResult
from siting.queueing import existing_capacity, station_capacity
from siting.travel import TravelTimes

if TYPE_CHECKING:
    from siting.demand import Demand
    from siting.results import Inputs
    from siting.sections import OptimizeConfig

log = logging.getLogger(__name__)


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
        max_dc: int | None = None,
        dc_exact: bool = False,
    ) -> CapacitatedCoverage:
        """Build from what a run has: its inputs, one scenario's demand and its
        ``[optimize]`` section.

        Station capacities come from the queueing model (existing stations of known
        type keep their own), AC and DC demand from the segments' chargers.
        ``p``, ``fixed`` (default: the existing stations) and ``secondary``
        (default: ``optimize.secondary``) override the scenario's.
        """
        oc = optimize_config
        keep = existing_sites(inputs) if fixed is None else np.asarray(fixed, dtype=np.int64)
        peak = demand.peak_hour_share
        capacity = station_capacity(oc.capacity, demand.segments, peak)
        known = existing_capacity(inputs.candidates, oc.capacity, demand.segments, peak)
        kept = set(keep.tolist())
        ac, dc = demand.by_charger()
        return cls.from_travel_times(
            demand.travel,
            ac,
            dc,
            capacity,
            oc.p if p is None else p,
            threshold_s=oc.threshold_min * 60.0,
            fixed=keep,
            budget=budget,
            station_cost=dict(station_cost or {}),
            secondary=oc.secondary if secondary is None else secondary,
            max_dc=max_dc,
            dc_exact=dc_exact,
            site_capacity={j: v for j, v in known.items() if j in kept},
            **side_options(inputs, demand, oc),
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
        return greedy_plan(self, stop_at=stop_at, per_cost=per_cost)

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
        :class:`siting.optimize.MinimumPlan`).
        """
        prob = pulp.LpProblem(self.name, pulp.LpMaximize)
        at_most = self.budget is not None or (floor is not None and mode != "secondary")
        types, y, cost_terms = _rows.site_rows(self, prob, at_most=at_most)
        assign, objective, access = _rows.assignment_rows(self, prob, y, types)
        n_s = self.neighbours.shape[1]
        if floor is None and weight is None:
            prob += pulp.LpAffineExpression(objective), "served"
        elif floor is None:
            # served plus the secondary order, weighted so that it can move the served
            # total by at most half the gap tolerance (see the class docstring)
            terms = _rows.secondary_terms(self, prob, y, assign, access, cost_terms)
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
                terms = _rows.secondary_terms(self, prob, y, assign, access, cost_terms)
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
            _rows.warm(self, y, assign, start)
        return prob, y, assign

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
        """A large instance: see :func:`siting.optimize._large.solve_large`."""
        return solve_large(self, solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)

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
