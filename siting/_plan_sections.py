"""The sections of the optimisation request and of how a plan is valued.

``[optimize]`` (with its ``capacity``, ``budget``, ``choose``, ``minimum`` and
``staging`` tables and its ``[[optimize.designs]]``), ``[futures]``, ``[costs]``,
``[benefits]`` and ``[economics]``, checked as every section is (see
:mod:`siting.sections`, which exports them).
"""

from __future__ import annotations

import difflib
import itertools
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from siting import settings
from siting._section_base import (
    Kilowatts,
    Metres,
    Minutes,
    Money,
    NonNegativeMinutes,
    PositiveMoney,
    Share,
    Stations,
    _Strict,
)


def candidate_kinds() -> tuple[str, ...]:
    """The ``kind`` a candidate site may have: the OSM kinds of
    :data:`siting.settings.CANDIDATE_TAGS`, :data:`siting.settings.GRID_KIND` (the road
    grid) and ``existing_station`` (see :mod:`siting.candidates`)."""
    osm = dict.fromkeys(kind for _, _, kind in settings.CANDIDATE_TAGS)
    return (*osm, settings.GRID_KIND, "existing_station")


def _known_kind(value: str) -> str:
    kinds = candidate_kinds()
    if value not in kinds:
        close = difflib.get_close_matches(value, kinds, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"expected a candidate kind{hint}, one of {', '.join(kinds)}")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a non-empty text")
    return value


#: Text that must say something (a name, a source).
Text = Annotated[str, AfterValidator(_not_blank)]

#: A candidate kind (:func:`candidate_kinds`).
SiteKind = Annotated[str, AfterValidator(_known_kind)]

#: A user group (demand segment).
GroupName = Literal["residents", "inbound", "taxis"]


class DesignConfig(_Strict):
    """A station design the plan may choose per site (``[[optimize.designs]]``).

    Its capital cost is ``cost``, or the sum of ``cost_parts`` (one of the two, in the
    ``[costs]`` currency); its capacity follows from its ports and power by the
    queueing model of ``optimize.capacity`` (see :mod:`siting.designs`). A DC design
    serves every user group, an AC design the groups whose ``charger`` is AC; its own
    ``segments`` and each group's ``designs`` narrow that (see
    :func:`siting.segments.may_use`).
    """

    #: Unique among the designs; groups' ``designs`` lists and the outputs name it.
    name: Text
    charger: Literal["AC", "DC"]
    ports: Annotated[int, Field(ge=1, le=settings.MAX_STATION_PORTS)]
    kw_per_port: Kilowatts
    #: Capital cost of one station, or its parts (``{equipment = ..., works = ...}``).
    cost: Money | None = None
    cost_parts: Annotated[dict[Text, Money], Field(min_length=1)] | None = None
    #: User groups it serves (``None``: every group its charger allows).
    segments: Annotated[list[GroupName], Field(min_length=1)] | None = None
    #: Candidate kinds where it may stand (``fuel``, ``mall``, ...; ``None``: anywhere).
    site_kinds: Annotated[list[SiteKind], Field(min_length=1)] | None = None
    #: Where the figures come from (shown in the outputs).
    source: Text

    @property
    def capital_cost(self) -> float:
        """``cost``, or the sum of ``cost_parts``."""
        if self.cost is not None:
            return self.cost
        return float(sum((self.cost_parts or {}).values()))


class CapacityConfig(_Strict):
    """Station capacity: ports, charger power and service level (see siting.queueing)."""

    #: Ports (parking places with a charger) per station.
    ports: Annotated[int, Field(ge=1, le=settings.MAX_STATION_PORTS)] = 2
    #: Station types that may be built.
    types: list[Literal["AC", "DC"]] = Field(
        default_factory=lambda: ["AC", "DC"],  # type: ignore[arg-type]
        min_length=1,
    )
    ac_kw: Kilowatts = 22.0
    dc_kw: Kilowatts = 50.0
    #: Minutes a session holds a port besides charging (parking, plugging, paying).
    handling_min: NonNegativeMinutes = 6.0
    #: Service level in the peak hour: probability of waiting, and/or mean wait (minutes).
    max_wait_prob: Annotated[float, Field(gt=0.0, lt=1.0)] | None = 0.2
    max_mean_wait_min: Minutes | None = None

    @model_validator(mode="after")
    def _has_service_level(self) -> CapacityConfig:
        if self.max_wait_prob is None and self.max_mean_wait_min is None:
            raise ValueError("optimize.capacity needs max_wait_prob or max_mean_wait_min")
        return self


class BudgetConfig(_Strict):
    """A capital budget for the new stations (the currency of ``[costs]``).

    With a budget, ``optimize.p`` is the largest number of stations. Existing
    stations are sunk costs: they do not count against it.
    """

    total: PositiveMoney


class CostsConfig(_Strict):
    """Capital and operating cost of a station, in one currency.

    Capital cost of a new station of type *t* with *n* ports of *kW* each:
    ``site_works + n × port[t] + n × kW × grid_per_kw``. ``opex_share_year`` is the
    yearly operating cost as a share of the capital cost. Every figure should
    carry its source, year and currency conversion in the scenario file.
    """

    currency: Annotated[str, Field(min_length=1)] = "USD"
    #: Works per site (parking bays, marking, signage, permits).
    site_works: Money = 0.0
    #: Cost per port (charger hardware and installation) by station type.
    port: dict[Literal["AC", "DC"], Money] = Field(default_factory=dict)
    #: Grid connection per kW of installed charger power.
    grid_per_kw: Money = 0.0
    #: Yearly operating cost as a share of the capital cost.
    opex_share_year: Share = 0.0
    #: Where the figures come from (shown in the outputs).
    source: str = ""


class PlanChoiceConfig(_Strict):
    """Which point of the cost frontier is the plan written.

    ``knee``: the point of the frontier (served against capital cost, both scaled
    to [0, 1]) farthest above the straight line from the cheapest to the most-serving
    point, where extra money starts to buy much less service; ``max_served``: the
    most served, at its least cost; ``budget``: the most served within
    ``optimize.budget``.
    """

    rule: Literal["knee", "max_served", "budget", "marginal"] = "max_served"
    #: Frontier points solved between the cheapest and the most-serving plan.
    points: Annotated[int, Field(ge=2, le=50)] = 6
    #: Why this rule, in the planner's words (written to kpis.json).
    rationale: str = ""
    #: ``marginal``: the most a step along the frontier may cost per unit of the
    #: objective served a day (currency per session/day, per kWh/day or per kg
    #: CO2/day, after ``optimize.objective``).
    max_marginal_cost: Annotated[float, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _marginal_has_its_limit(self) -> PlanChoiceConfig:
        if self.rule == "marginal" and self.max_marginal_cost is None:
            raise ValueError(
                "max_marginal_cost: expected the most a step may cost per unit served "
                "(rule 'marginal'), got nothing"
            )
        return self


class MinimumConfig(_Strict):
    """The minimum plan: fewest stations, or least capital cost, to reach a target."""

    #: Shares of the demand within reach (any candidate within the threshold) to serve.
    targets: list[Annotated[float, Field(gt=0.0, le=1.0)]] = Field(
        default_factory=lambda: [1.0, 0.9]
    )
    #: ``stations``: fewest stations; ``cost``: least capital cost.
    objective: Literal["stations", "cost"] = "cost"
    #: Adoption presets to report it for (the scenario's own preset when empty).
    presets: list[str] = Field(default_factory=list)


class StageConfig(_Strict):
    """One stage of a staged plan (``[[optimize.staging.stages]]``)."""

    #: The stage's year; stages come in increasing years.
    year: Annotated[int, Field(ge=0, le=settings.MAX_YEAR)]
    #: Adoption preset of the stage's demand (the scenario's own when absent).
    preset: str | None = None
    #: Stations in the plan by this stage, existing ones included.
    p: Stations
    #: Capital cost of all new stations up to this stage (``[costs]`` currency); with
    #: it each station's type is chosen by value within it, else the most served.
    budget: PositiveMoney | None = None
    #: Weight of the stage's served demand in the objective (default: discounted).
    weight: Annotated[float, Field(ge=0.0, le=settings.MAX_STAGE_WEIGHT)] | None = None


class StagingConfig(_Strict):
    """Multi-year staging: stations added stage by stage, never removed."""

    stages: Annotated[list[StageConfig], Field(min_length=1)]
    #: Yearly discount rate of a stage's weight, 1 / (1 + rate)^(year - first year),
    #: where a stage gives no weight.
    discount: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    #: Why these stages, counts and weights (written with the results).
    rationale: str = ""

    @model_validator(mode="after")
    def _growing(self) -> StagingConfig:
        for a, b in itertools.pairwise(self.stages):
            if b.year <= a.year:
                raise ValueError(
                    "optimize.staging.stages: expected increasing years, "
                    f"got {a.year} then {b.year}"
                )
            if b.p < a.p:
                raise ValueError(
                    f"optimize.staging.stages: stations are never removed, so p cannot fall "
                    f"({a.p} in {a.year}, {b.p} in {b.year})"
                )
        return self

    def weights(self) -> list[float]:
        """Each stage's weight: its own, else discounted from the first year."""
        y0 = self.stages[0].year
        return [
            s.weight if s.weight is not None else (1.0 + self.discount) ** -(s.year - y0)
            for s in self.stages
        ]


class FuturesConfig(_Strict):
    """Futures the plan should hold up in (``[futures]``): a robust plan across them,
    each future's own plan and regret, and what moves the plan."""

    #: Adoption presets, each one future.
    presets: list[str] = Field(default_factory=list)
    #: Seeded random futures drawn uniformly over ``ranges``, besides the presets.
    draws: Annotated[int, Field(ge=0, le=200)] = 0
    seed: Annotated[int, Field(ge=0)] = 0
    #: ``worst``: the plan with the best worst-case share served; ``mean``: best mean;
    #: ``quantile``: the best share met in all but the ``quantile`` share of futures.
    criterion: Literal["worst", "mean", "quantile"] = "worst"
    quantile: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    #: Assumption ranges, scenario field -> [low, high] (e.g.
    #: ``"demand.residents.public_share" = [0.3, 0.7]``, ``"economics.price" = [80, 100]``):
    #: the draws' ranges, and each swept from low to high for the sensitivity table and
    #: tornado plots. A field of names takes two names (``"demand.preset" = ["today",
    #: "growth-2030"]``): its two ends, of which a draw takes one at random.
    ranges: dict[
        str,
        Annotated[list[float], Field(min_length=2, max_length=2)]
        | Annotated[list[str], Field(min_length=2, max_length=2)],
    ] = Field(default_factory=dict)
    #: Why these futures and ranges (written with the results).
    rationale: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> FuturesConfig:
        for key, (lo, hi) in self.ranges.items():
            if isinstance(lo, float | int) and isinstance(hi, float | int) and lo > hi:
                raise ValueError(f"futures.ranges.{key}: expected [low, high], got [{lo}, {hi}]")
        if not self.presets and not self.draws:
            raise ValueError("futures: expected presets or draws (at least one future)")
        if self.draws and not self.ranges:
            raise ValueError("futures.draws: expected futures.ranges to draw from")
        return self


class OptimizeConfig(_Strict):
    """The optimisation request."""

    #: ``capacitated``: serve the most demand within the threshold under station
    #: capacities; ``mclp``: cover the most demand within the threshold; ``pmedian``:
    #: least demand-weighted access time.
    model: Literal["capacitated", "mclp", "pmedian"] = "capacitated"
    #: Total number of stations in the plan, existing ones included.
    p: Stations = 311
    threshold_min: Minutes = 10.0
    solver: Literal["highs", "cbc"] = "highs"
    time_limit_s: Annotated[float, Field(gt=0.0, le=settings.MAX_TIME_LIMIT_S)] = 120.0
    gap: Annotated[float, Field(ge=0.0, lt=1.0)] = 1e-4
    threads: Annotated[int, Field(ge=1, le=settings.MAX_THREADS)] | None = None
    capacity: CapacityConfig = CapacityConfig()
    #: No two stations closer than this (metres, straight line); 0 turns it off.
    min_spacing_m: Metres = 0.0
    #: Each district must have at least this share of its demand covered (mclp),
    #: served (capacitated) or within the travel cutoff (pmedian); 0 turns it off.
    equity_share: Share = 0.0
    #: Each user group's served share at least this fraction of the plan's served
    #: share of all demand (0: off; 1: every group served the same share). Needs the
    #: capacitated model; it turns on the designs form (each group its own class).
    segment_equity: Share = 0.0
    #: What a plan maximises: ``sessions`` a day, ``energy`` (kWh a day) or ``co2``
    #: (kg CO2 a day avoided against petrol cars, from ``[benefits]``); each user
    #: group's ``weight`` multiplies it. With one set of benefit factors ``co2`` is
    #: ``energy`` times one factor: the same plan, counted in CO2. Anything but
    #: ``sessions`` turns on the designs form.
    objective: Literal["sessions", "energy", "co2"] = "sessions"
    #: Every new station must pay back within the lease (``[economics]``): it sells at
    #: least its break-even kWh a day (its design's and site's capital). ``p`` then
    #: bounds the stations from above, and the plan opens only those that pay.
    viable: bool = False
    #: With forced sites (``candidates.force``): this many single swaps of a forced
    #: site for a site of the free optimum, each solved and reported with what it gains
    #: (``siting evaluate`` asks for 5).
    swaps: Annotated[int, Field(ge=0, le=50)] = 0
    #: Nested phases (e.g. [150, 311, 400]): each keeps the previous one's stations; the
    #: plan written is the phase of size ``p``, which must be listed.
    phases: list[Stations] | None = None
    #: Station counts also solved on their own (same model and constraints) for the
    #: served-against-stations plot, e.g. [50, 100, 150, 200, 311, 400]; with
    #: ``phases`` the phases are plotted as well.
    curve: list[Stations] | None = None
    budget: BudgetConfig | None = None
    #: The cost frontier and the point written as the plan (capacitated model).
    choose: PlanChoiceConfig = PlanChoiceConfig()
    #: Secondary order among plans within ``gap`` of the primary objective: more
    #: demand within the threshold, then less access time, then less capital cost.
    secondary: bool = True
    #: Minimum plans reported beside the plan; ``None`` turns them off.
    minimum: MinimumConfig | None = MinimumConfig()
    #: Multi-year staging reported beside the plan (capacitated model); ``None``: off.
    staging: StagingConfig | None = None
    #: Station designs the plan chooses from per site; empty: one per ``capacity.types``
    #: entry, named after it, with ``capacity``'s ports and power and ``[costs]``'s cost.
    designs: list[DesignConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _designs_are_whole(self) -> OptimizeConfig:
        first: dict[str, int] = {}
        for i, design in enumerate(self.designs):
            where = f"optimize.designs[{i}]"
            if design.name in first:
                raise ValueError(
                    f"{where}.name: expected a name no other design has, got {design.name!r} "
                    f"(also optimize.designs[{first[design.name]}].name)"
                )
            first[design.name] = i
            if (design.cost is None) == (design.cost_parts is None):
                got = "both" if design.cost is not None else "neither"
                raise ValueError(
                    f"{where}: expected one of cost and cost_parts (capital cost of a "
                    f"station), got {got}"
                )
            if design.capital_cost > settings.MAX_MONEY:
                raise ValueError(
                    f"{where}.cost_parts: expected a sum at most {settings.MAX_MONEY:g}, "
                    f"got {design.capital_cost:g}"
                )
            if design.segments is not None and len(set(design.segments)) < len(design.segments):
                raise ValueError(
                    f"{where}.segments: expected each user group once, got {design.segments}"
                )
        return self

    @model_validator(mode="after")
    def _phases_include_p(self) -> OptimizeConfig:
        if self.phases is not None and self.p not in self.phases:
            raise ValueError(f"optimize.phases {self.phases} must include optimize.p ({self.p})")
        if self.choose.rule == "budget" and self.budget is None:
            raise ValueError("optimize.choose.rule = 'budget' needs optimize.budget")
        if self.staging is not None and self.model != "capacitated":
            raise ValueError(
                f"optimize.staging needs optimize.model = 'capacitated', got {self.model!r}"
            )
        return self

    @property
    def threshold_s(self) -> float:
        """``threshold_min`` in seconds: the one conversion every stage uses."""
        return self.threshold_min * 60.0


class BenefitsConfig(_Strict):
    """Factors for the benefits of a plan against the petrol cars its sessions replace.

    Each figure should carry its source, year and unit in the scenario file.
    """

    #: Grid carbon intensity at the charger (kg CO2 per kWh delivered).
    grid_kg_co2_per_kwh: Annotated[float, Field(ge=0.0, le=settings.MAX_KG_CO2_PER_KWH)]
    #: EV energy use (kWh per km, at the charger).
    ev_kwh_per_km: Annotated[float, Field(ge=settings.MIN_KWH_PER_KM, le=settings.MAX_KWH_PER_KM)]
    #: Petrol car fuel use (litres per 100 km).
    petrol_l_per_100km: Annotated[float, Field(gt=0.0, le=settings.MAX_L_PER_100KM)]
    #: CO2 per litre of petrol burnt (kg/L).
    petrol_kg_co2_per_l: Annotated[float, Field(gt=0.0, le=settings.MAX_KG_PER_L)]
    #: Density of petrol (kg/L), to apply per-kg-fuel pollutant factors.
    petrol_kg_per_l: Annotated[float, Field(gt=0.0, le=settings.MAX_KG_PER_L)] = 0.74
    #: Local pollutants per kg of petrol burnt (g/kg), e.g. NOx, CO, NMVOC, PM2.5.
    pollutants_g_per_kg_fuel: dict[
        str, Annotated[float, Field(ge=0.0, le=settings.MAX_G_PER_KG_FUEL)]
    ] = Field(default_factory=dict)
    #: Days per year a station operates like the planning day.
    days_per_year: Annotated[float, Field(gt=0.0, le=366.0)] = 365.0
    #: Years a station serves, for the capital cost per tonne over its life.
    lifetime_years: Annotated[float, Field(gt=0.0, le=settings.MAX_LIFETIME_YEARS)] = 10.0
    #: Context figures shown beside the results (free text).
    context: str = ""
    source: str = ""


class EconomicsConfig(_Strict):
    """What a station earns and whether it pays back within its lease (``[economics]``).

    Per station (see :mod:`siting.economics`): the energy it sells a year at ``price``
    (less the ``vat`` it includes), less the electricity it buys for it at
    ``electricity_cost`` (``losses`` of it lost in the charger) and its yearly operating
    cost (``opex_year`` or the sum of ``opex_parts``, plus ``opex_capital_share`` of its
    capital cost), is its yearly margin; its capital cost (design and site) is paid back
    when the margins, discounted at ``discount_rate``, reach it within ``lease_years``.
    Money in ``currency`` (the ``[costs]`` one); each figure should carry its source,
    year and unit in the scenario file.
    """

    #: Currency of every figure (``None``: the ``[costs]`` currency); must match it.
    currency: Annotated[str, Field(min_length=1)] | None = None
    #: Selling price per kWh as the driver pays it (VAT included when ``vat`` > 0).
    price: PositiveMoney
    #: VAT rate the price includes (0.16: 16 %); the operator keeps ``price / (1 + vat)``.
    vat: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    #: What the operator pays per kWh it buys from the grid (net of VAT).
    electricity_cost: Money
    #: Share of the energy bought that is lost in the charger (bought = sold / (1 - losses)).
    losses: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    #: Yearly operating cost of a station, or its parts (``{maintenance = ..., ...}``).
    opex_year: Money | None = None
    opex_parts: Annotated[dict[Text, Money], Field(min_length=1)] | None = None
    #: Yearly operating cost as a share of the station's capital cost, on top.
    opex_capital_share: Share = 0.0
    #: Years of the land lease: the station must pay back within them.
    lease_years: Annotated[float, Field(gt=0.0, le=settings.MAX_LIFETIME_YEARS)]
    #: Yearly discount rate of future margins (0.06: 6 % a year).
    discount_rate: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    #: Days a year a station sells like the planning day.
    days_per_year: Annotated[float, Field(gt=0.0, le=366.0)] = 365.0
    #: Where the figures come from (shown in the outputs).
    source: Text

    @model_validator(mode="after")
    def _one_opex(self) -> EconomicsConfig:
        if self.opex_year is not None and self.opex_parts is not None:
            raise ValueError(
                "economics.opex_year, economics.opex_parts: expected at most one of the two "
                "(yearly operating cost of a station), got both"
            )
        if self.fixed_opex_year > settings.MAX_MONEY:
            raise ValueError(
                f"economics.opex_parts: expected a sum at most {settings.MAX_MONEY:g}, "
                f"got {self.fixed_opex_year:g}"
            )
        return self

    @property
    def fixed_opex_year(self) -> float:
        """Yearly operating cost of every station: ``opex_year`` or the sum of
        ``opex_parts`` (0 with neither)."""
        if self.opex_year is not None:
            return self.opex_year
        return float(sum((self.opex_parts or {}).values()))

    @property
    def net_price(self) -> float:
        """What the operator keeps of each kWh sold: ``price / (1 + vat)``."""
        return self.price / (1.0 + self.vat)

    @property
    def energy_cost_per_kwh_sold(self) -> float:
        """Electricity bought per kWh sold: ``electricity_cost / (1 - losses)``."""
        return self.electricity_cost / (1.0 - self.losses)
