"""The minimum plan: how many stations, at least cost, reach a target of the demand.

Two forms, one class. Without capacities it is the (partial) set covering problem:
the location set covering problem (LSCP, Toregas et al. 1971; spopt's ``LSCP``)
when the target is all the demand within reach. With capacities it is the
capacitated model of :class:`siting.optimize.CapacitatedCoverage` turned round:
least capital cost (or fewest stations) serving a target of the demand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pulp
import scipy.sparse as sp

from siting._clock import time_left
from siting.errors import InfeasibleError, InputError
from siting.optimize import _solvers
from siting.optimize._checks import (
    _check_capacity,
    _check_site_capacity,
    _fixed_sites,
    check_number,
    check_pairs_matrix,
    check_station_cost,
    check_threshold_s,
    check_values,
)
from siting.optimize._common import _within_times
from siting.optimize._types import DriveTimes
from siting.optimize.capacitated import _solve
from siting.optimize.capacitated.model import CapacitatedCoverage
from siting.optimize.minimum import _cover
from siting.optimize.options import SolveOptions
from siting.optimize.result import SolveResult

log = logging.getLogger(__name__)


class MinimumPlan:
    r"""Fewest stations, or least capital cost, serving a target share of the demand.

    Set covering form (no ``capacity``), with :math:`R` the demand that has a
    candidate within the threshold and :math:`\alpha` the target:

    .. math::

        \min \sum_{j \notin E} c_j y_j
        \quad\text{s.t.}\quad
        z_i \le \sum_{j \in N_i} y_j,\quad
        \sum_i w_i z_i \ge \alpha R,\quad y_j = 1 \;\; \forall j \in E,

    with binary :math:`y` and :math:`0 \le z_i \le 1`; for :math:`\alpha = 1` the rows
    are the LSCP's :math:`\sum_{j \in N_i} y_j \ge 1` for every reachable point. With
    ``objective="stations"`` every :math:`c_j = 1` (the cost breaks ties).

    With ``station_cost`` per type the columns are :math:`y^{AC}_j, y^{DC}_j` (at most
    one per site) and a point's AC demand :math:`a_i` and DC demand :math:`d_i` have
    rows of their own: :math:`z^a_i \le \sum_{j \in N_i} (y^{AC}_j + y^{DC}_j)`,
    :math:`z^d_i \le \sum_{j \in N_i} y^{DC}_j` and
    :math:`\sum_i (a_i z^a_i + d_i z^d_i) \ge \alpha R`: DC demand is covered only by
    a DC station, which costs :math:`c_{DC}` (one column per site is enough when DC
    costs no more than AC, or when no point needs DC). Existing stations of known type
    (``site_capacity``) keep it; without ``station_cost`` stations are of one type
    that serves any demand (the LSCP).

    Capacitated form (``capacity`` given): the rows of
    :class:`~siting.optimize.CapacitatedCoverage` (types, capacities, DC demand at DC
    stations) with served demand :math:`\ge \alpha R` and the cost objective; here
    :math:`R` is the demand a plan opening every candidate could serve (an LP), so a
    target above what capacity allows is explained instead of searched for.

    Parameters
    ----------
    neighbours
        Sparse (n_demand, n_sites) pairs within the threshold.
    ac_demand, dc_demand
        Sessions per day needing AC (any port) and DC ports; for the set covering
        form their sum is the weight.
    target
        Share of the demand within reach to serve, in (0, 1].
    capacity
        Sessions/day per station type; ``None`` for the set covering form.
    station_cost
        Capital cost of a new station per charger type, ``{"AC": c_ac, "DC": c_dc}``
        (finite, >= 0); a type left out is not built. Capacitated form: default 1 per
        type of ``capacity``. Set covering form: default one type of cost 1 that
        serves any demand; with it, each station is of the type the demand it covers
        needs (see above).
    objective
        ``"cost"`` or ``"stations"``.
    fixed, site_capacity
        Existing stations (kept, cost nothing) and their known type and capacity.
    most_served
        A dictionary shared by minimum plans of the same instance (other targets):
        the LP of every candidate built is then solved once.
    """

    name = "minimum"

    def __init__(
        self,
        neighbours: sp.sparray | sp.spmatrix,
        ac_demand: np.ndarray,
        dc_demand: np.ndarray,
        target: float,
        *,
        capacity: dict[str, float] | None = None,
        station_cost: dict[str, float] | None = None,
        objective: Literal["cost", "stations"] = "cost",
        fixed: np.ndarray | None = None,
        site_capacity: dict[int, tuple[str, float]] | None = None,
        most_served: dict[str, Any] | None = None,
    ) -> None:
        target_share = check_number(target, "target", above=0.0, at_most=1.0)
        if objective not in ("cost", "stations"):
            raise InputError(f"objective: expected 'cost' or 'stations', got {objective!r}")
        nb = check_pairs_matrix(neighbours, "neighbours").astype(bool)
        nb.sum_duplicates()
        nb.sort_indices()
        self.neighbours = nb
        n_d, n_s = nb.shape
        self.ac = check_values(ac_demand, n_d, "ac_demand")
        self.dc = check_values(dc_demand, n_d, "dc_demand")
        self.target = target_share
        cost = check_station_cost(station_cost)
        self.capacity: dict[str, float] | None = None
        if capacity is not None:
            self.capacity = dict(capacity) if isinstance(capacity, Mapping) else {}
            cost = cost or dict.fromkeys(self.capacity, 1.0)
            _check_capacity(capacity, cost, costed=True)
        #: per type; empty for the set covering form without costs (untyped, unit costs)
        self.station_cost: dict[str, float] = cost or {}
        self.objective = objective
        self.fixed = _fixed_sites(fixed, n_s)
        self.site_capacity = _check_site_capacity(site_capacity, self.fixed)
        # the most any plan serves and its warm start, shared by the plans of one instance
        self._most = most_served if most_served is not None else {}

    @classmethod
    def from_cost_matrix(
        cls,
        cost: np.ndarray | sp.sparray | sp.spmatrix,
        ac_demand: np.ndarray,
        dc_demand: np.ndarray,
        target: float,
        *,
        threshold: float,
        **options: Any,
    ) -> MinimumPlan:
        """Build from a dense or sparse cost matrix; pairs with cost <= threshold count."""
        nb, _ = _within_times(cost, threshold)
        return cls(nb, ac_demand, dc_demand, target, **options)

    @classmethod
    def from_travel_times(
        cls,
        tt: DriveTimes,
        ac_demand: np.ndarray,
        dc_demand: np.ndarray,
        target: float,
        *,
        threshold_s: float,
        **options: Any,
    ) -> MinimumPlan:
        """Build from the sparse drive times; pairs within ``threshold_s`` count."""
        threshold_s = check_threshold_s(threshold_s, tt.cutoff_s)
        return cls(tt.neighbours(threshold_s), ac_demand, dc_demand, target, **options)

    # ----------------------------------------------------------------- solving
    def reachable(self) -> float:
        """Demand with a candidate site within the threshold (sessions/day)."""
        w = self.ac + self.dc
        return float(w[np.diff(self.neighbours.indptr) > 0].sum())

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

        ``objective`` is the capital cost (or station count) of the plan; ``extra``
        has ``target``, ``reachable`` and ``required`` (sessions/day), ``served``,
        ``cost``, ``stations`` and, for the capacitated form or with ``station_cost``,
        ``types``.

        Raises
        ------
        InfeasibleError
            The target exceeds what any plan can serve; the message says how much can.
        """
        o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        solver, time_limit, gap, threads, msg = o.solver, o.time_limit, o.gap, o.threads, o.msg
        if self.capacity is None:
            return self._solve_cover(
                solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg
            )
        t0 = time.perf_counter()
        n_s = self.neighbours.shape[1]
        full, model, rows, rep_of = self._capacitated()
        if "value" not in self._most:
            # the LP gets half the time at most; unproven, it says nothing (None)
            lp_limit = None if time_limit is None else time_limit / 2
            self._most["value"], self._most["start"] = self.most_served(
                model, solver, time_limit=lp_limit
            )
        most = self._most["value"]
        required = self.target * self.reachable()
        if most is not None and required > most + 1e-6 * max(1.0, most):
            raise InfeasibleError(
                f"minimum plan: serving {100 * self.target:.0f}% of the demand within reach "
                f"({required:,.1f} sessions/day) is beyond any plan: with every one of the "
                f"{n_s} candidates built, capacity serves at most {most:,.1f} sessions/day "
                f"({100 * most / max(self.reachable(), 1e-12):.1f}% of it)"
            )
        start = self._warm_start(model, required)
        prob, y, assign = model.build(floor=required, mode=self.objective, start=start)
        build_s = time.perf_counter() - t0
        limit = time_left(time_limit, build_s)
        info = _solvers.run(prob, solver, time_limit=limit, gap=gap, threads=threads, msg=msg)
        if info.status == "infeasible":
            raise InfeasibleError(f"minimum plan: no plan serves {required:,.1f} sessions/day")
        res = _solve.read_result(
            model,
            y,
            assign,
            info,
            info.status,
            info.stopped_by,
            info.seconds,
            build_s,
            0.0,
            exact_p=False,
        )
        extra = res.extra
        if rows is not None and rep_of is not None:
            extra = _solve.unmerged(full, extra, rows, rep_of, model.ac, model.dc)
        served = float(extra["load"].sum())
        value = extra["cost"] if self.objective == "cost" else float(len(res.selected))
        extra.update(
            target=self.target,
            reachable=self.reachable(),
            required=required,
            served=served,
            stations=len(res.selected),
            most_served=most,
        )
        return SolveResult.from_info(
            self.name,
            res.selected,
            info,
            build_s,
            extra,
            objective=float(value),
            gap=_solvers.relative_gap(info.objective, info.bound),
        )

    def _capacitated(
        self,
    ) -> tuple[CapacitatedCoverage, CapacitatedCoverage, np.ndarray | None, np.ndarray | None]:
        """The capacitated model with every candidate allowed (p = all), and the one
        solved: its points of the same reach merged into one row when that pays
        (exact; see :func:`siting.optimize.capacitated._solve.merged`), with the
        merge's rows and representatives (None when not merged)."""
        full = CapacitatedCoverage(
            self.neighbours,
            self.ac,
            self.dc,
            self.capacity or {},
            self.neighbours.shape[1],
            fixed=self.fixed,
            station_cost=self.station_cost,
            site_capacity=self.site_capacity,
        )
        merged = _solve.merged(full)
        if merged is None:
            return full, full, None, None
        model, rows, rep_of = merged
        return full, model, rows, rep_of

    def _warm_start(self, model: CapacitatedCoverage, required: float) -> dict[str, Any]:
        """The greedy by value per cost, else by value, else everything open (the
        plan of :meth:`most_served`), whichever first serves ``required`` (the last
        greedy when the LP did not finish: no start serves it then)."""
        for per_cost in dict.fromkeys([self.objective == "cost", False]):
            plan = model.greedy(stop_at=required, per_cost=per_cost)
            if model.plan_served(plan) >= required - 1e-6 * max(1.0, required):
                return plan
        start: dict[str, Any] | None = self._most["start"]
        return plan if start is None else start

    def most_served(
        self, model: CapacitatedCoverage, solver: str | None, *, time_limit: float | None = None
    ) -> tuple[float | None, dict[str, Any] | None]:
        """Demand served with every candidate open as its most capable type (an LP),
        and that plan as a warm start for the minimum plan; (None, None) when the LP
        is not solved within ``time_limit``: then nothing is known of the most."""
        n_s = self.neighbours.shape[1]
        best = max(model.capacity, key=lambda t: model.capacity[t] + (t == "DC"))
        cap = "DC" if "DC" in model.capacity else best
        everything = CapacitatedCoverage(
            model.neighbours,
            model.ac,
            model.dc,
            {cap: model.capacity[cap]},
            n_s,
            fixed=np.arange(n_s),
            site_capacity={j: kv for j, kv in self.site_capacity.items() if kv[0] == cap},
        )
        prob, _, assign = everything.build()
        for v in prob.variables():
            v.cat = pulp.LpContinuous
        info = _solvers.run(prob, solver, time_limit=time_limit, gap=None)
        if info.status != "optimal":
            log.info("minimum plan: the LP of the most served stopped (%s)", info.stopped_by)
            return None, None
        start = {
            "types": {j: model.site_types(j)[-1] for j in range(n_s)},
            "u": {k: min(1.0, max(0.0, x.varValue or 0.0)) for k, x in assign["u"].items()},
            "v": {k: min(1.0, max(0.0, x.varValue or 0.0)) for k, x in assign["v"].items()},
        }
        return float(info.objective), start

    def _solve_cover(
        self,
        solver: str | None,
        *,
        time_limit: float | None,
        gap: float | None,
        threads: int | None,
        msg: bool,
    ) -> SolveResult:
        """The set covering form (LSCP for a target of 1): AC demand at any station,
        DC demand only at a DC one (see :mod:`siting.optimize.minimum._cover`)."""
        t0 = time.perf_counter()
        nb = self.neighbours
        n_s = nb.shape[1]
        w = self.ac + self.dc
        live = (np.diff(nb.indptr) > 0) & (w > 0)
        reach = float(w[live].sum())
        required = self.target * reach
        cols = _cover.columns(
            n_s,
            self.fixed,
            self.site_capacity,
            self.station_cost,
            dc_needed=bool((self.dc[live] > 0).any()),
        )
        demand = _cover.parts(nb, self.ac, self.dc, cols)
        most = sum(p.weight for p in demand if p.cols)
        if required > most + 1e-9 * max(1.0, most):
            why = (
                "station_cost has no 'DC' type"
                if self.station_cost and "DC" not in self.station_cost
                else "some of it has only existing AC stations within reach"
            )
            raise InfeasibleError(
                f"minimum plan: covering {100 * self.target:.0f}% of the demand within reach "
                f"({required:,.1f} sessions/day) is beyond any plan: DC demand needs a DC "
                f"station and {why}, so at most {most:,.1f} sessions/day "
                f"({100 * most / max(reach, 1e-12):.1f}%) can be covered"
            )
        # with types, a greedy plan as a warm start (the typed model is the harder one)
        start = (
            _cover.greedy(cols, demand, required, objective=self.objective)
            if self.station_cost
            else None
        )
        prob, y, tie = _cover.build(
            cols,
            demand,
            target=self.target,
            required=required,
            objective=self.objective,
            start=start,
        )
        build_s = time.perf_counter() - t0
        info = _solvers.run(prob, solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        if info.status == "infeasible":
            raise InfeasibleError(f"minimum plan: no plan covers {required:,.1f} sessions/day")
        # an existing site in no row may come back without a value: it is kept all the same
        chosen = [k for k, v in enumerate(y) if cols.fixed[k] or (v.varValue or 0.0) > 0.5]
        selected = np.array(sorted({cols.site[k] for k in chosen}), dtype=np.int64)
        is_open = set(chosen)
        served = sum(p.weight for p in demand if is_open.intersection(p.cols))
        cost = float(sum(cols.cost[k] for k in chosen))
        extra: dict[str, Any] = {
            "target": self.target,
            "reachable": reach,
            "required": required,
            "served": float(served),
            "stations": len(selected),
            "cost": cost if self.objective == "cost" or self.station_cost else None,
        }
        overrides: dict[str, Any] = {}
        if self.station_cost:
            kind = {cols.site[k]: cols.kind[k] for k in chosen}
            extra["types"] = np.array([kind[j] for j in selected.tolist()], dtype=str)
        if tie:
            new = float(sum(1 for k in chosen if not cols.fixed[k]))
            bound = _cover.lower_bound(info.bound, tie=tie)
            overrides = {
                "objective": new,
                "bound": bound,
                "gap": _solvers.relative_gap(new, bound),
            }
        return SolveResult.from_info(self.name, selected, info, build_s, extra, **overrides)
