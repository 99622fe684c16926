"""The one request builder: what a run asks of the solver library, as models.

The solver library (:mod:`siting.optimize`) builds models from arrays and knows
nothing of a run. A :class:`Request` is one scenario's demand on a run's inputs,
its ``[optimize]`` section and its station costs, and turns them into model
instances: the plan model ``optimize.model`` names (:meth:`Request.model`, through
:data:`BUILDERS`), the capacitated model (:meth:`Request.capacitated`), the minimum
plan (:meth:`Request.minimum`) and, one request per stage, the staged plan
(:func:`staged`).

What the models share is derived here once per request and nowhere else: station
capacities from the queueing model and those of existing stations, the existing
sites, the threshold in seconds, the spacing pairs and equity groups, and the solve
options. :meth:`Request.reach` measures the demand out of every plan's reach (and
refuses a request no plan can answer).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from siting import _request_designs as _designs
from siting import settings
from siting._clock import StageClock
from siting._request_designs import DesignSetup
from siting.costs import station_costs
from siting.errors import InputError
from siting.metrics import out_of_reach
from siting.optimize import (
    CapacitatedCoverage,
    MaximalCovering,
    MinimumPlan,
    PMedian,
    SolveOptions,
    SolveResult,
    StagedPlan,
    close_pairs,
)
from siting.queueing import existing_capacity, station_capacity

if TYPE_CHECKING:
    from siting.demand import Demand
    from siting.designs import DesignSpec
    from siting.optimize.capacitated.design import Design
    from siting.results import Inputs
    from siting.scenario import Scenario
    from siting.sections import OptimizeConfig


class PlanModel(Protocol):
    """What the plan stage asks of a model: to solve."""

    def solve(
        self,
        solver: str | SolveOptions | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> SolveResult: ...


@dataclass(frozen=True, eq=False)
class Request:
    """One scenario's optimisation request on a run: the models it asks for.

    Attributes
    ----------
    inputs
        The run's inputs (candidates, their index, drive times).
    demand
        One scenario's demand on them.
    optimize_config
        The scenario's ``[optimize]`` section.
    station_cost
        Capital cost of a new station per type, or None (no costs: a budget prices
        stations at 0, the minimum plan counts stations).
    designs
        The designs form (:mod:`siting._request_designs`): station designs, each
        user group a demand class with its own standards, sites' own costs; None:
        the AC and DC types of ``optimize.capacity``.
    """

    inputs: Inputs
    demand: Demand
    optimize_config: OptimizeConfig
    station_cost: dict[str, float] | None = None
    designs: DesignSetup | None = None

    @classmethod
    def from_run(
        cls,
        inputs: Inputs,
        demand: Demand,
        optimize_config: OptimizeConfig,
        *,
        station_cost: Mapping[str, float] | None = None,
        designs: DesignSetup | None = None,
    ) -> Request:
        """The request of ``demand`` on ``inputs`` with ``optimize_config``."""
        cost = None if station_cost is None else dict(station_cost)
        if designs is not None:
            cost = {spec.name: spec.cost for spec in designs.specs}
        return cls(inputs, demand, optimize_config, cost, designs)

    @classmethod
    def of_scenario(cls, sc: Scenario, inputs: Inputs, demand: Demand) -> Request:
        """The request of scenario ``sc``: its station costs from its ``[costs]``, or
        its designs when it asks for them (:func:`~siting._request_designs.asks_for_designs`)."""
        oc = sc.optimize
        if oc.model == "capacitated" and _designs.asks_for_designs(sc, demand.segments):
            return cls.from_run(
                inputs, demand, oc, designs=_designs.design_setup(sc, inputs, demand)
            )
        return cls.from_run(inputs, demand, oc, station_cost=station_costs(sc.costs, oc.capacity))

    # ------------------------------------------------------- derived, once each
    @property
    def threshold_s(self) -> float:
        """The coverage threshold in seconds (``optimize.threshold_min``)."""
        return self.optimize_config.threshold_s

    @cached_property
    def existing(self) -> np.ndarray:
        """Positions of the existing stations among the candidates (kept in every plan)."""
        return np.flatnonzero(self.inputs.candidates["existing"].to_numpy())

    @cached_property
    def capacity(self) -> dict[str, float]:
        """Sessions per day of a new station of each type (design), from the queueing
        model; with designs, at the demand mix of the groups each serves."""
        d = self.demand
        if self.designs is not None:
            return {s.name: _designs.sessions_at_mix(s, d) for s in self.designs.specs}
        return station_capacity(self.optimize_config.capacity, d.segments, d.peak_hour_share)

    @cached_property
    def existing_capacity(self) -> dict[int, tuple[str, float]]:
        """Type (design) and daily capacity of each existing station whose type is known."""
        d, cfg = self.demand, self.optimize_config.capacity
        if self.designs is not None:
            return {
                j: (spec.name, _designs.sessions_at_mix(spec, d))
                for j, (spec, _) in self.existing_designs.items()
            }
        return existing_capacity(self.inputs.candidates, cfg, d.segments, d.peak_hour_share)

    @cached_property
    def existing_designs(self) -> dict[int, tuple[DesignSpec, Design]]:
        """With designs: each existing station of known type, its own design."""
        cfg = self.optimize_config.capacity
        return _designs.existing_designs(self.inputs.candidates, cfg, self.demand)

    @cached_property
    def spacing_pairs(self) -> np.ndarray | None:
        """Candidate pairs closer than ``optimize.min_spacing_m`` (None: no spacing)."""
        oc, cand = self.optimize_config, self.inputs.candidates
        if oc.min_spacing_m <= 0:
            return None
        xy = self.inputs.index.to_metric(cand["lon"].to_numpy(), cand["lat"].to_numpy())
        return close_pairs(xy, oc.min_spacing_m)

    def time_limit(self, solve: Literal["plan", "minimum", "future"] = "plan") -> float:
        """Seconds a solve of this kind may take: ``optimize.time_limit_s`` for the
        plan's stage, capped by ``settings.MINIMUM_TIME_LIMIT_S`` for a minimum plan and
        by ``settings.FUTURES_SOLVE_LIMIT_S`` for a future's own plan."""
        limit = self.optimize_config.time_limit_s
        cap = {
            "plan": None,
            "minimum": settings.MINIMUM_TIME_LIMIT_S,
            "future": settings.FUTURES_SOLVE_LIMIT_S,
        }[solve]
        return limit if cap is None else min(limit, cap)

    def deadline(self) -> float | None:
        """When the optimise stage started now must end (``time.perf_counter()``)."""
        return StageClock.deadline(self.time_limit())

    @cached_property
    def options(self) -> SolveOptions:
        """How every model of the request is solved (no time limit: each solve sets its own)."""
        oc = self.optimize_config
        return SolveOptions.of(oc.solver, gap=oc.gap, threads=oc.threads)

    def side(self) -> dict[str, Any]:
        """The side constraints ``[optimize]`` asks for: spacing pairs and equity groups."""
        oc = self.optimize_config
        groups = self.demand.points["district"].to_numpy() if oc.equity_share > 0 else None
        return {
            "spacing_pairs": self.spacing_pairs,
            "equity_share": oc.equity_share,
            "groups": groups,
        }

    def reach(self) -> dict[str, Any]:
        """The demand out of every plan's reach (see :func:`siting.metrics.out_of_reach`)."""
        d = self.demand
        return out_of_reach(d.travel, d.weights, self.threshold_s, model=self.optimize_config.model)

    # ------------------------------------------------------------------ models
    def model(
        self,
        *,
        p: int | None = None,
        fixed: np.ndarray | None = None,
        budget: float | None = None,
        secondary: bool | str | None = None,
        max_dc: int | None = None,
        dc_exact: bool = False,
    ) -> PlanModel:
        """The plan model ``optimize.model`` names (see :data:`BUILDERS`).

        ``p`` (default ``optimize.p``), ``fixed`` (default: the existing stations)
        and ``secondary`` (default ``optimize.secondary``) override the scenario's;
        ``max_dc`` and ``dc_exact`` bound the new DC stations (capacitated model).
        """
        build = builder(self.optimize_config.model)
        return build(
            self,
            p=p,
            fixed=fixed,
            budget=budget,
            secondary=secondary,
            max_dc=max_dc,
            dc_exact=dc_exact,
        )

    def covering(
        self,
        *,
        p: int | None = None,
        fixed: np.ndarray | None = None,
        budget: float | None = None,
        secondary: bool | str | None = None,
    ) -> MaximalCovering:
        """The maximal covering model. One station type: a budget prices every new
        station as an AC one; ``secondary`` turns the access-time second stage on or off."""
        oc, d = self.optimize_config, self.demand
        return MaximalCovering.from_travel_times(
            d.travel,
            d.weights,
            oc.p if p is None else p,
            threshold_s=self.threshold_s,
            tie_break=bool(oc.secondary if secondary is None else secondary),
            **self._single_type(fixed, budget),
        )

    def pmedian(
        self,
        *,
        p: int | None = None,
        fixed: np.ndarray | None = None,
        budget: float | None = None,
        secondary: bool | str | None = None,
    ) -> PMedian:
        """The p-median: demand beyond the travel cutoff counts at the cutoff. One
        station type; it has no secondary order (``secondary`` is accepted and unused)."""
        oc, tt = self.optimize_config, self.demand.travel
        return PMedian.from_travel_times(
            tt,
            self.demand.weights,
            oc.p if p is None else p,
            unserved_cost=tt.cutoff_s,
            **self._single_type(fixed, budget),
        )

    def free(self) -> Request | None:
        """The same request without its forced and excluded sites (None when it has
        none): the free optimum that forcing and excluding are measured against."""
        if self.designs is None or not self.designs.controls:
            return None
        return dataclasses.replace(self, designs=dataclasses.replace(self.designs, controls=None))

    def capacitated(
        self,
        *,
        p: int | None = None,
        fixed: np.ndarray | None = None,
        budget: float | None = None,
        secondary: bool | str | None = None,
        max_dc: int | None = None,
        dc_exact: bool = False,
    ) -> CapacitatedCoverage:
        """The capacitated model: capacities from the queueing model (kept existing
        stations of known type keep their own), AC and DC demand from the segments."""
        oc, d = self.optimize_config, self.demand
        keep = self.existing if fixed is None else np.asarray(fixed, dtype=np.int64)
        kept = set(keep.tolist())
        if self.designs is not None:
            return self._with_designs(
                p=oc.p if p is None else p,
                fixed=keep,
                budget=budget,
                secondary=oc.secondary if secondary is None else secondary,
                max_dc=max_dc,
                dc_exact=dc_exact,
            )
        ac, dc = d.by_charger()
        return CapacitatedCoverage.from_travel_times(
            d.travel,
            ac,
            dc,
            dict(self.capacity),
            oc.p if p is None else p,
            threshold_s=self.threshold_s,
            fixed=keep,
            budget=budget,
            station_cost=dict(self.station_cost or {}),
            secondary=oc.secondary if secondary is None else secondary,
            max_dc=max_dc,
            dc_exact=dc_exact,
            site_capacity={j: v for j, v in self.existing_capacity.items() if j in kept},
            **self.side(),
        )

    def _with_designs(
        self,
        *,
        p: int,
        fixed: np.ndarray,
        budget: float | None,
        secondary: bool | str,
        max_dc: int | None,
        dc_exact: bool,
    ) -> CapacitatedCoverage:
        """The capacitated model with designs: each user group a class of its own."""
        d, setup = self.demand, self.designs
        if setup is None:
            raise InputError("optimize.designs: this request has no designs form")
        controls = setup.controls or None
        groups = _designs.classes(d)
        kept = set(fixed.tolist())
        return CapacitatedCoverage.from_design_times(
            d.travel,
            _designs.class_demand(d),
            _designs.model_designs(setup.specs, self.inputs.candidates, groups),
            p,
            thresholds_s=_designs.thresholds_s(d, self.threshold_s),
            classes=groups,
            forced=None if controls is None else np.setdiff1d(controls.forced, fixed),
            closed=None if controls is None else controls.closed,
            class_weight=setup.class_weight,
            class_use=setup.class_use,
            min_use=setup.min_use,
            min_share=[d.segments[g].min_served_share for g in groups],
            class_equity=self.optimize_config.segment_equity,
            site_design={j: m for j, (_, m) in self.existing_designs.items() if j in kept},
            site_cost=setup.site_cost,
            fixed=fixed,
            budget=budget,
            secondary=secondary,
            max_dc=max_dc,
            dc_exact=dc_exact,
            **self.side(),
        )

    def minimum(self, target: float, *, most_served: dict[str, Any] | None = None) -> MinimumPlan:
        """The minimum plan for the ``target`` share of demand.

        With the capacitated model: station capacities from the queueing model and
        the least ``optimize.minimum.objective`` (capital cost or stations); else a
        set covering of the fewest stations. ``most_served`` (a dict shared by the
        targets of one demand) keeps the one LP that bounds what any plan serves.
        """
        oc, d = self.optimize_config, self.demand
        if self.designs is not None and oc.model == "capacitated":
            return MinimumPlan.from_model(
                self.capacitated(secondary=False),
                target,
                objective=oc.minimum.objective if oc.minimum else "cost",
                most_served=most_served,
            )
        ac, dc = d.by_charger()
        options: dict[str, Any] = {"objective": "stations"}
        if oc.model == "capacitated":
            options = {
                "capacity": dict(self.capacity),
                "site_capacity": dict(self.existing_capacity),
                "station_cost": None if self.station_cost is None else dict(self.station_cost),
                "objective": oc.minimum.objective if oc.minimum else "cost",
            }
        return MinimumPlan.from_travel_times(
            d.travel,
            ac,
            dc,
            target,
            threshold_s=self.threshold_s,
            fixed=self.existing,
            most_served=most_served,
            **options,
        )

    def _single_type(self, fixed: np.ndarray | None, budget: float | None) -> dict[str, Any]:
        """Options of the one-station-type models (covering, p-median): existing sites,
        side constraints and a budget that prices every new station as an AC one."""
        return {
            "fixed": self.existing if fixed is None else fixed,
            "budget": budget,
            "site_cost": (self.station_cost or {}).get("AC", 0.0),
            **self.side(),
        }


def staged(
    requests: Sequence[Request],
    *,
    sizes: Sequence[int],
    budgets: Sequence[float | None],
    weights: Sequence[float],
    labels: Sequence[str],
) -> StagedPlan:
    """The staged plan: one request (demand) per stage, its count and budget."""
    models = [
        req.capacitated(p=p, budget=budget, secondary=False)
        for req, p, budget in zip(requests, sizes, budgets, strict=True)
    ]
    return StagedPlan(models, weights, labels)


def _one_type(build: Callable[..., PlanModel]) -> Callable[..., PlanModel]:
    """A one-station-type builder, refusing the bounds on DC stations it has no use for."""

    def checked(
        req: Request, *, max_dc: int | None = None, dc_exact: bool = False, **kw: Any
    ) -> PlanModel:
        if max_dc is not None or dc_exact:
            raise InputError(
                f"optimize.model: {req.optimize_config.model!r} has one station type; "
                "max_dc and dc_exact need the capacitated model"
            )
        return build(req, **kw)

    return checked


#: ``optimize.model`` → the builder of its model. Add a model here (and to the
#: scenario's choices).
BUILDERS: dict[str, Callable[..., PlanModel]] = {
    "mclp": _one_type(Request.covering),
    "pmedian": _one_type(Request.pmedian),
    "capacitated": Request.capacitated,
}


def builder(name: str) -> Callable[..., PlanModel]:
    """The builder of ``optimize.model = name``: ``build(request, *, p, fixed, budget,
    secondary, max_dc, dc_exact)``."""
    try:
        return BUILDERS[name]
    except KeyError:
        raise InputError(
            f"optimize.model: expected one of {', '.join(BUILDERS)}, got {name!r}"
        ) from None
