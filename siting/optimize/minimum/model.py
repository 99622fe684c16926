"""The minimum plan: how many stations, at least cost, reach a target of the demand.

Two forms, one class. Without capacities it is the (partial) set covering problem:
the location set covering problem (LSCP, Toregas et al. 1971; spopt's ``LSCP``)
when the target is all the demand within reach. With capacities it is the
capacitated model of :class:`siting.optimize.CapacitatedCoverage` turned round:
least capital cost (or fewest stations) serving a target of the demand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from siting.errors import InputError
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
from siting.optimize.capacitated._rows import servable
from siting.optimize.capacitated.model import CapacitatedCoverage
from siting.optimize.minimum import _capacitated, _cover
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
        #: the most any plan serves (``"value"``) and its warm start (``"start"``) in the
        #: capacitated form, shared by the plans of one instance (``most_served``)
        self.most: dict[str, Any] = most_served if most_served is not None else {}
        #: the capacitated instance of :meth:`from_model` (None: built from the arrays)
        self.base: CapacitatedCoverage | None = None

    @classmethod
    def from_model(
        cls,
        model: CapacitatedCoverage,
        target: float,
        *,
        objective: Literal["cost", "stations"] = "cost",
        most_served: dict[str, Any] | None = None,
    ) -> MinimumPlan:
        """The capacitated form on a :class:`~siting.optimize.CapacitatedCoverage`'s
        instance: its designs, classes and their reach, site costs and existing
        stations; its ``p``, budget, secondary order and bounds on DC stations are
        not used. The target is a share of the demand some candidate can serve."""
        plan = cls.__new__(cls)
        plan.neighbours = model.neighbours
        plan.ac, plan.dc = model.ac, model.dc
        plan.target = check_number(target, "target", above=0.0, at_most=1.0)
        if objective not in ("cost", "stations"):
            raise InputError(f"objective: expected 'cost' or 'stations', got {objective!r}")
        plan.capacity = dict(model.capacity)
        plan.station_cost = dict(model.station_cost)
        plan.objective = objective
        plan.fixed = model.fixed
        plan.site_capacity = dict(model.site_capacity)
        plan.most = most_served if most_served is not None else {}
        plan.base = model
        return plan

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
        """Demand with a candidate site within the threshold (sessions/day); with
        :meth:`from_model`, within each class's own reach of a design it may use."""
        if self.base is not None:
            m = self.base
            can = servable(m)
            return float(
                sum(
                    m.demand[c][(m.class_nb[c].astype(float) @ can[c].astype(float)) > 0].sum()
                    for c in range(m.demand.shape[0])
                )
            )
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
        if self.capacity is None:
            return _cover.solve_cover(self, o)
        return _capacitated.solve_capacitated(self, o)
