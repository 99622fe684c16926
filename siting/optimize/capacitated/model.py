"""Capacitated coverage with AC and DC stations (the pipeline's default model).

The class, its formulation and constructors; its input checks are in
:mod:`siting.optimize.capacitated._inputs`, its rows in
:mod:`siting.optimize.capacitated._rows`, its solve in
:mod:`siting.optimize.capacitated._solve` and :mod:`siting.optimize.capacitated._large`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pulp
import scipy.sparse as sp

from siting.errors import InputError
from siting.optimize._checks import (
    _check_capacity,
    _check_site_capacity,
    _fixed_sites,
    check_count,
    check_number,
    check_p,
    check_station_cost,
    check_threshold_s,
    check_values,
    shown,
)
from siting.optimize._common import _aligned_times, _layer_distances, _within, _within_times
from siting.optimize._side import _SideConstraints
from siting.optimize._types import DriveTimes
from siting.optimize.capacitated import _inputs, _rows, _solve
from siting.optimize.capacitated._greedy import greedy_plan
from siting.optimize.capacitated.design import (
    Design,
    check_designs,
    class_matrix,
    legacy_designs,
)
from siting.optimize.options import SolveOptions
from siting.optimize.result import SolveResult


class CapacitatedCoverage(_SideConstraints):
    r"""Capacitated coverage with station designs: serve the most demand within reach.

    **With designs and demand classes** (:meth:`from_designs`): demand class *c* (a
    user group) has :math:`d_{ci}` sessions/day at point *i* and may charge at the
    sites :math:`N^c_i` within its own reach, at the designs :math:`T_c` that serve
    it; design *t* offers :math:`H_t` units a day (port-hours) and a session of class
    *c* takes :math:`h_{ct}` of them (hours at a port); site *j* costs
    :math:`c_t + e_j` as design *t* (its own cost :math:`e_j`; existing sites 0):

    .. math::

        \max \sum_c w_c \sum_i \sum_{j \in N^c_i} d_{ci} x_{cij}
        \quad\text{s.t.}\quad
        \sum_{j \in N^c_i} x_{cij} \le 1,\qquad
        \sum_t y_{tj} \le 1,\qquad \sum_{j,t} y_{tj} = p,

    .. math::

        \sum_i d_{ci} x_{cij} = \sum_{t \in T_c} L_{ctj},\qquad
        \sum_c h_{ct} L_{ctj} \le H_t\, y_{tj}\;\; \forall t, j,\qquad
        \sum_{i,j} d_{ci} x_{cij} \ge m_c D_c,

    .. math::

        \sum_{i,j} d_{ci} x_{cij} \ge \epsilon \frac{D_c}{D}
        \sum_{k,i,j} d_{ki} x_{kij}
        \quad\text{(equity across classes, } \epsilon\text{ = class_equity)},

    .. math::

        \sum_c u_c \sum_i d_{ci} x_{cij} \ge \sum_t M_{tj}\, y_{tj}
        \quad\text{(least use: a new station sells enough to pay back)},


    with binary :math:`y` (a design *t* only where it may stand), :math:`x, L \ge 0`,
    :math:`D_c` class *c*'s whole demand, :math:`m_c` its minimum share and
    :math:`w_c` its weight, :math:`u_c` a session's use (e.g. kWh) and :math:`M_{tj}`
    the least use of design *t* at site *j* (``min_use``; with it :math:`\sum y \le p`).
    Forced new sites (``forced``) have :math:`\sum_t y_{tj} = 1` and pay their cost;
    closed ones (``closed``) :math:`y_{tj} = 0`.
    Where every class's session takes the same units at every
    design of a site, the split :math:`L` is not needed: aggregated rows (the units of
    all the load within the open design's capacity; the load of the classes a subset
    of designs serves within that subset's capacity) are exact with one design per
    site. The legacy form below is the special case of two classes (AC and DC
    demand), two designs and sessions of one unit each.

    **Legacy form** (the constructor): each open site is an AC or a DC station with a
    daily capacity (from the queueing model, :mod:`siting.queueing`). AC demand may
    charge at either type, DC demand (taxis) only at DC stations, and only at sites
    within the threshold:

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

    **Final order** (with ``secondary=True`` on the designs' form, no district equity
    and no access-time term): the solve breaks ties by capital cost alone, then the
    solver's plan is moved one station at a time, with its design and its load (or
    trading sessions with the stations near it when only the mix of classes blocks
    a move), to the sites with the larger share of the demand they could serve,
    never losing demand within reach nor adding cost
    (:mod:`siting.optimize.capacitated._polish`): what the plan serves is unchanged,
    and plans the solvers return end on largely the same sites. The result's
    ``extra["final_order"]`` says what it did.

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
        site_cost: np.ndarray | None = None,
    ) -> None:
        nb = _inputs.pairs(neighbours)
        n_d, n_s = nb.shape
        ac = check_values(ac_demand, n_d, "ac_demand")
        dc = check_values(dc_demand, n_d, "dc_demand")
        cost = check_station_cost(station_cost) or {}
        costed = budget is not None or bool(cost)
        _check_capacity(capacity, cost, costed=costed)
        fixed_sites = _fixed_sites(fixed, n_s)
        known = _check_site_capacity(site_capacity, fixed_sites)
        base = legacy_designs({str(t): float(k) for t, k in capacity.items()}, cost)
        site_design = {
            j: Design(t, k, (1.0, math.nan) if t == "AC" else (1.0, 1.0), 0.0, t, frozenset([j]))
            for j, (t, k) in known.items()
        }
        self._setup(
            nb,
            np.vstack([ac, dc]),
            list(base.values()),
            p,
            classes=("AC", "DC"),
            class_neighbours=None,
            site_design=site_design,
            fixed=fixed_sites,
            link_rows=link_rows,
            spacing_pairs=spacing_pairs,
            groups=groups,
            equity_share=equity_share,
            budget=budget,
            times=times,
            secondary=secondary,
            max_dc=max_dc,
            dc_exact=dc_exact,
            site_cost=site_cost,
        )
        self.legacy = True
        if dc.sum() > 0 and "DC" not in self.designs:
            warnings.warn(
                "capacity has no DC station type: DC demand cannot be served",
                UserWarning,
                stacklevel=2,
            )

    @classmethod
    def from_designs(
        cls,
        neighbours: sp.sparray | sp.spmatrix,
        demand: np.ndarray | Sequence[np.ndarray],
        designs: Sequence[Design],
        p: int,
        *,
        classes: Sequence[str] | None = None,
        class_neighbours: Sequence[sp.sparray | sp.spmatrix] | None = None,
        class_weight: Sequence[float] | None = None,
        min_share: Sequence[float] | None = None,
        class_equity: float = 0.0,
        site_design: dict[int, Design] | None = None,
        site_cost: np.ndarray | None = None,
        class_use: Sequence[float] | None = None,
        min_use: Mapping[str, float | np.ndarray] | None = None,
        forced: Sequence[int] | np.ndarray | None = None,
        closed: Sequence[int] | np.ndarray | None = None,
        **options: Any,
    ) -> CapacitatedCoverage:
        """The model with station designs and demand classes (user groups).

        Parameters
        ----------
        neighbours
            (n_demand, n_sites) pairs where any class may be served.
        demand
            Sessions per day, one row per class.
        designs
            The :class:`Design` s a new station may take (one per site at most).
        classes
            Class names (default ``c0``, ``c1``, ...).
        class_neighbours
            Per class, the pairs within its own reach (each within ``neighbours``;
            default: ``neighbours`` for every class).
        class_weight
            Weight of each class's sessions in the objective (default 1).
        min_share
            Share of each class's demand every plan must serve (default 0).
        class_equity
            Each class's served share at least this fraction of the plan's served
            share of all demand (0: no such row; 1: every class the same share).
        site_design
            Existing (fixed) sites of known design: ``{site: Design}``.
        site_cost
            Each site's own capital cost added to its design's cost (land, grid
            connection, works), per site; existing sites cost nothing.
        forced, closed
            New sites every plan opens (each pays its cost and takes the design the
            model chooses), and sites no plan opens (existing ones cannot be closed).
        class_use, min_use
            The least use of an open new station (for example the energy it must sell
            a day to pay back): ``min_use[design]`` (one figure, or one per site) in
            the units of ``class_use``, each class's use per session (default 1: a
            session). With it ``p`` bounds the stations from above.
        options
            ``fixed``, ``budget``, ``secondary``, ``max_dc``, ``dc_exact``, ``times``,
            ``link_rows`` and the side constraints, as for the constructor.
        """
        nb = _inputs.pairs(neighbours)
        n_d, n_s = nb.shape
        dem = class_matrix(demand, n_d)
        model = cls.__new__(cls)
        model._setup(
            nb,
            dem,
            check_designs(designs, dem.shape[0], n_s),
            p,
            classes=tuple(classes) if classes is not None else None,
            class_neighbours=class_neighbours,
            class_weight=class_weight,
            min_share=min_share,
            class_equity=class_equity,
            site_design=dict(site_design or {}),
            site_cost=site_cost,
            class_use=class_use,
            min_use=min_use,
            forced=forced,
            closed=closed,
            **options,
        )
        model.legacy = False
        return model

    def _setup(
        self,
        nb: sp.csr_array,
        demand: np.ndarray,
        designs: list[Design],
        p: int,
        *,
        classes: tuple[str, ...] | None,
        class_neighbours: Sequence[sp.sparray | sp.spmatrix] | None,
        site_design: dict[int, Design],
        fixed: np.ndarray | None = None,
        link_rows: bool = False,
        spacing_pairs: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        equity_share: float = 0.0,
        budget: float | None = None,
        times: sp.sparray | sp.spmatrix | None = None,
        secondary: bool | Literal["cost"] = False,
        max_dc: int | None = None,
        dc_exact: bool = False,
        site_cost: np.ndarray | None = None,
        class_weight: Sequence[float] | None = None,
        min_share: Sequence[float] | None = None,
        class_equity: float = 0.0,
        class_use: Sequence[float] | None = None,
        min_use: Mapping[str, float | np.ndarray] | None = None,
        forced: Sequence[int] | np.ndarray | None = None,
        closed: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        if not (isinstance(secondary, bool | np.bool_) or secondary == "cost"):
            raise InputError(f"secondary: expected True, False or 'cost', got {shown(secondary)}")
        n_s = nb.shape[1]
        n_c = demand.shape[0]
        self.link_rows = link_rows
        self.secondary = secondary
        self.max_dc = None if max_dc is None else check_count(max_dc, "max_dc", at_least=0)
        self.dc_exact = dc_exact and max_dc is not None
        self.last_secondary: dict[str, Any] | None = None
        self.budget = None if budget is None else check_number(budget, "budget", at_least=0.0)
        self.neighbours = nb
        self.times = _aligned_times(times, nb)
        self.demand = demand
        self.classes = classes or tuple(f"c{c}" for c in range(n_c))
        if len(self.classes) != n_c:
            raise InputError(f"classes: expected {n_c} names, got {shown(self.classes)}")
        self.class_nb = _inputs.class_neighbours(class_neighbours, nb, n_c)
        self.class_weight = _inputs.per_class(class_weight, n_c, "class_weight", 1.0, top=None)
        self.min_share = _inputs.per_class(min_share, n_c, "min_share", 0.0, top=1.0)
        self.class_equity = check_number(class_equity, "class_equity", at_least=0.0, at_most=1.0)
        #: each class's whole demand (kept when points are merged): minimum shares and
        #: the equity rows are shares of it
        self.class_total = demand.sum(axis=1)
        self.designs: dict[str, Design] = {d.name: d for d in designs}
        self.p = check_count(p, "p")
        self.fixed = _fixed_sites(fixed, n_s)
        check_p(self.p, n_s, len(self.fixed))
        self.fixed_set = set(self.fixed.tolist())
        for j, d in site_design.items():
            if j not in self.fixed_set:
                raise InputError(
                    f"site_design: expected existing (fixed) sites as keys, got site {j}, "
                    "which is not fixed"
                )
            if len(d.units) != n_c:
                raise InputError(f"site_design[{j}]: expected {n_c} unit figures")
        self.site_design = dict(site_design)
        self.site_cost: np.ndarray = np.zeros(n_s)
        if site_cost is not None:
            self.site_cost = np.asarray(
                check_values(np.asarray(site_cost, dtype=float), n_s, "site_cost"), dtype=float
            )
        self.forced, self.closed = _inputs.forced_closed(forced, closed, self.fixed_set, n_s)
        self.forced_set = set(self.forced.tolist())
        self.closed_set = set(self.closed.tolist())
        if len(self.fixed) + len(self.forced) > self.p:
            raise InputError(
                f"forced: expected at most p - {len(self.fixed)} existing = "
                f"{self.p - len(self.fixed)} forced sites, got {len(self.forced)}"
            )
        for j in self.forced.tolist():
            if not self.site_types(j):
                raise InputError(f"forced: site {j} may take no design (its site kinds)")
        for j in self.fixed.tolist():
            if not self.site_types(j):
                raise InputError(
                    f"fixed: existing site {j} may take no design: expected a design of its "
                    "own (site_design) or one allowed there"
                )
        self.class_use = _inputs.per_class(class_use, n_c, "class_use", 1.0, top=None)
        self.min_use = _inputs.min_use(min_use, self.designs, n_s, self.fixed_set)
        self.set_side_constraints(
            spacing_pairs=spacing_pairs,
            groups=groups,
            equity_share=equity_share,
            fixed=self.fixed,
            weights=self.demand.sum(axis=0),
            reachable=np.diff(nb.indptr) > 0,
            n_sites=n_s,
        )

    # ----------------------------------------------------------- the designs
    @property
    def ac(self) -> np.ndarray:
        """AC demand (class 0) of the legacy form."""
        return self.demand[0]

    @property
    def dc(self) -> np.ndarray:
        """DC demand (class 1) of the legacy form; zeros with one class."""
        return self.demand[1] if self.demand.shape[0] > 1 else np.zeros(self.demand.shape[1])

    @property
    def weights(self) -> np.ndarray:
        """Sessions per day at each point, every class."""
        return self.demand.sum(axis=0)

    @property
    def capacity(self) -> dict[str, float]:
        """Daily capacity of a new station of each design."""
        return {t: d.capacity for t, d in self.designs.items()}

    @property
    def station_cost(self) -> dict[str, float]:
        """Capital cost of a new station of each design (before a site's own cost)."""
        return {t: d.cost for t, d in self.designs.items()}

    @property
    def site_capacity(self) -> dict[int, tuple[str, float]]:
        """Existing sites of known design: their design's name and capacity."""
        return {j: (d.name, d.capacity) for j, d in self.site_design.items()}

    @property
    def exact_p(self) -> bool:
        """Whether a plan has exactly ``p`` stations (no budget, no least use)."""
        return self.budget is None and not self.min_use

    def design_at(self, j: int, t: str) -> Design:
        """The design named ``t`` as it stands at site ``j``."""
        own = self.site_design.get(j)
        return own if own is not None and own.name == t else self.designs[t]

    def site_types(self, j: int) -> list[str]:
        """Designs site ``j`` may take."""
        if j in self.site_design:
            return [self.site_design[j].name]
        if j in getattr(self, "closed_set", ()):
            return []
        return [t for t, d in self.designs.items() if d.allowed_at(j)]

    def capacity_of(self, j: int, t: str) -> float:
        """Daily capacity (the designs' units) of site ``j`` as a station of design ``t``."""
        return float(self.design_at(j, t).capacity)

    def cost_of(self, j: int, t: str) -> float:
        """Capital cost of site ``j`` as a station of design ``t`` (existing ones: 0)."""
        if j in self.fixed_set:
            return 0.0
        return float(self.design_at(j, t).cost + self.site_cost[j])

    def charger_of(self, t: str) -> str:
        """The charger label of design ``t``."""
        d = self.designs.get(t)
        if d is None:
            d = next(x for x in self.site_design.values() if x.name == t)
        return d.charger

    def uniform_units(self) -> bool:
        """Every session of every class takes one unit at every design: capacities are
        sessions (the legacy form)."""
        ds = [*self.designs.values(), *self.site_design.values()]
        return all(u == 1.0 for d in ds for u in d.units if not math.isnan(u))

    @classmethod
    def from_travel_times(
        cls,
        tt: DriveTimes,
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
        threshold_s = check_threshold_s(threshold_s, tt.cutoff_s)
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
    def from_design_times(
        cls,
        tt: DriveTimes,
        demand: np.ndarray | Sequence[np.ndarray],
        designs: Sequence[Design],
        p: int,
        *,
        thresholds_s: Sequence[float],
        **options: Any,
    ) -> CapacitatedCoverage:
        """Build with designs from the sparse drive times: class *c* may be served at
        the sites within its own ``thresholds_s[c]`` (see :meth:`from_designs`)."""
        limits = [check_threshold_s(t, tt.cutoff_s) for t in thresholds_s]
        nb, times = _within_times(tt.matrix, max(limits))
        class_nb = []
        for t in limits:
            keep = sp.csr_array(
                (times.data <= t, times.indices.copy(), times.indptr.copy()), shape=nb.shape
            )
            keep.eliminate_zeros()
            class_nb.append(keep)
        return cls.from_designs(
            nb, demand, designs, p, class_neighbours=class_nb, times=times, **options
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

    def greedy(
        self, *, stop_at: float | None = None, per_cost: bool = False, hold_equity: bool = False
    ) -> dict[str, Any]:
        """Greedy plan and assignment, the warm start of :meth:`solve`.

        Opens the fixed sites, then repeatedly the (site, type) that can serve the
        most demand still unserved within reach (capped by its capacity; with
        ``per_cost``, the most per unit of capital cost), within p, the budget and the
        spacing, until ``stop_at`` sessions/day are served if given. Each new station
        serves DC demand first, then AC demand, the same share of every reachable
        point. Deterministic. With ``hold_equity`` it then serves less of the classes
        above the ``class_equity`` floor's reach, so that the plan meets those rows
        (as a warm start of the whole model such a plan slowed HiGHS from 8 s to over
        120 s on Almaty, so the solve's own start leaves them to the solver).
        """
        return greedy_plan(self, stop_at=stop_at, per_cost=per_cost, hold_equity=hold_equity)

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
        return _rows.build(self, floor=floor, start=start, mode=mode, weight=weight)

    def solve(
        self,
        solver: str | SolveOptions | None = None,
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
        o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg)
        return _solve.solve(self, o)

    def in_final_order(self, result: SolveResult) -> SolveResult:
        """``result``, a plan of this instance solved without the final order (a
        frontier point, ties broken by cost), with the final order applied when this
        model asks for it (``secondary=True``; see the class docstring); else as it is."""
        return _solve.in_final_order(self, result)

    def solve_direct(
        self, options: SolveOptions, *, start: dict[str, Any] | None = None
    ) -> SolveResult:
        """Solve this instance as given: one integer program, no merge of points and
        no reduction of candidates, warm-started from ``start`` (a plan in the form
        of :meth:`greedy`; else the greedy plan)."""
        return _solve.solve_direct(self, options, start=start)

    def with_plan(self, selected: np.ndarray, types: Sequence[str]) -> CapacitatedCoverage:
        """This instance with the stations ``selected`` fixed, each as its design in
        ``types``, and no other (p = their number): what a given plan serves."""
        out = copy.copy(self)
        sel = np.asarray(selected, dtype=np.int64)
        out.p = len(sel)
        out.fixed = np.unique(sel)
        out.fixed_set = set(out.fixed.tolist())
        out.site_design = {
            int(j): dataclasses.replace(self.design_at(int(j), str(t)), sites=frozenset([int(j)]))
            for j, t in zip(sel.tolist(), types, strict=True)
        }
        out.budget = None
        out.max_dc = None
        out.dc_exact = False
        out.secondary = False
        out.min_share = np.zeros_like(self.min_share)
        out.class_equity = 0.0
        out.spacing_pairs = np.empty((0, 2), dtype=np.int64)
        out.last_secondary = None
        return out

    def plan_served(self, plan: dict[str, Any]) -> float:
        """Sessions per day (weighted by class) a plan of :meth:`greedy` serves."""
        return float(
            sum(
                self.class_weight[c] * self.demand[c, i] * x
                for c, xs in enumerate(plan["x"])
                for (i, _), x in xs.items()
            )
        )
