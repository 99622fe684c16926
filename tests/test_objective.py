"""What a plan is worth (optimize.objective) and how the frontier's point is chosen
when the frontier is straight (optimize.choose)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from siting import settings
from siting._request_designs import class_weights, co2_avoided_per_kwh
from siting.frontier import choose, is_straight
from siting.optimize import CapacitatedCoverage, SolveResult
from siting.optimize.capacitated.design import Design
from siting.results import FrontierPoint
from siting.scenario import ScenarioError, load_scenario


def demand_of(kwh: dict[str, float]) -> SimpleNamespace:
    """The two attributes class_weights reads of a run's demand."""
    segments = {g: SimpleNamespace(weight=1.0, kwh_per_session=k) for g, k in kwh.items()}
    points = {f"{g}_sessions_day": None for g in kwh}
    return SimpleNamespace(segments=segments, points=points)


def test_each_objective_weights_a_group_by_what_its_session_counts() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    demand = demand_of({"residents": 25.0, "taxis": 30.0})
    assert class_weights(sc, demand) == [1.0, 1.0]  # type: ignore[arg-type]
    energy = sc.with_overrides({"optimize.objective": "energy"})
    assert class_weights(energy, demand) == [25.0, 30.0]  # type: ignore[arg-type]
    co2 = sc.with_overrides({"optimize.objective": "co2"})
    b = sc.benefits
    assert b is not None
    # by hand: 1 kWh drives 1/0.17 km; a petrol car burns 9 L/100 km of it at the
    # scenario's kg CO2 per litre; the grid emits its kg per kWh
    per_kwh = (1 / b.ev_kwh_per_km) * b.petrol_l_per_100km / 100 * b.petrol_kg_co2_per_l
    per_kwh -= b.grid_kg_co2_per_kwh
    assert co2_avoided_per_kwh(b) == pytest.approx(per_kwh)
    assert per_kwh > 0
    assert class_weights(co2, demand) == pytest.approx([25.0 * per_kwh, 30.0 * per_kwh])  # type: ignore[arg-type]


def test_co2_needs_benefits(tmp_path: Path) -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    plain = sc.model_copy(update={"benefits": None})
    with pytest.raises(ScenarioError, match=r"optimize.objective: 'co2'.*\[benefits\]"):
        plain.with_overrides({"optimize.objective": "co2"})
    with pytest.raises(ScenarioError, match=r"optimize\.objective"):
        sc.with_overrides({"optimize.objective": "kwh"})


def test_the_objective_decides_which_group_a_full_station_serves() -> None:
    """One station of 10 port-hours; residents' sessions (20 kWh) take 1 h, taxis'
    (48 kWh) 2 h. Counting sessions the station stands by the residents (10 sessions,
    200 kWh); counting energy (or CO2, its multiple) by the taxis (5 sessions, 240 kWh)."""
    design = Design("dc", 10.0, (1.0, 2.0), cost=1.0, charger="DC")
    nb = sp.csr_array(np.array([[1, 0], [0, 1]], dtype=bool))
    # residents at point 0 (near site 0), taxis at point 1 (near site 1)
    demand = np.array([[12.0, 0.0], [0.0, 8.0]])
    kwh = np.array([20.0, 48.0])

    def plan(weight: np.ndarray) -> tuple[list[int], np.ndarray]:
        m = CapacitatedCoverage.from_designs(nb, demand, [design], 1, class_weight=weight)
        res = m.solve("highs", gap=0.0)
        return res.selected.tolist(), res.extra["served_by_class"].sum(axis=1)

    sites, served = plan(np.ones(2))
    assert sites == [0] and served == pytest.approx([10.0, 0.0])  # 10 sessions > 5
    sites, served = plan(kwh)
    assert sites == [1] and served == pytest.approx([0.0, 5.0])  # 240 kWh > 200 kWh
    sites, served = plan(kwh * 0.9)  # CO2: energy times one factor, the same plan
    assert sites == [1]


def point(cost: float, served: float) -> FrontierPoint:
    res = SolveResult("capacitated", np.array([0]), served, None, None, "optimal", "highs", 0, 0, 0)
    res.extra["cost"] = cost
    return FrontierPoint(None, res)


def test_a_straight_frontier_is_named_and_the_marginal_rule_chooses_on_it() -> None:
    straight = [point(c, 100.0 + 2.0 * c) for c in (0.0, 10.0, 20.0, 30.0)]
    bent = [point(0.0, 100.0), point(10.0, 150.0), point(20.0, 160.0), point(30.0, 165.0)]
    assert is_straight(straight) and not is_straight(bent)
    assert choose(straight, "knee") == 0  # nothing to choose: the cheapest
    assert choose(bent, "knee") == 1
    # each step of the straight frontier costs 0.5 per unit served
    assert choose(straight, "marginal", max_marginal_cost=0.5) == 3
    assert choose(straight, "marginal", max_marginal_cost=0.49) == 0
    # the bent one: 0.2, then 1.0, then 2.0 per unit
    assert choose(bent, "marginal", max_marginal_cost=1.0) == 2
    assert choose(bent, "marginal", max_marginal_cost=0.5) == 1
    with pytest.raises(ValueError, match="max_marginal_cost"):
        choose(bent, "marginal")


def test_the_marginal_rule_needs_its_limit() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO.parent / "almaty-mixed.toml")
    with pytest.raises(ScenarioError, match="max_marginal_cost"):
        sc.with_overrides({"optimize.choose.rule": "marginal"})
    ok = sc.with_overrides(
        {"optimize.choose.rule": "marginal", "optimize.choose.max_marginal_cost": 2e6}
    )
    assert ok.optimize.choose.max_marginal_cost == 2e6


def test_viable_needs_the_economics_section() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    assert sc.economics is not None
    with pytest.raises(ScenarioError, match=r"optimize.viable.*\[economics\]"):
        sc.model_copy(update={"economics": None}).with_overrides({"optimize.viable": True})
    assert sc.with_overrides({"optimize.viable": True}).optimize.viable


def test_a_station_must_sell_its_break_even_where_it_stands() -> None:
    """optimize.viable: each design's least use at each site is the kWh a day at which
    its capital (design and site) has an NPV of 0 over the lease, by hand."""
    from siting._request_designs import least_use
    from siting.economics import annuity_factor

    sc = load_scenario(settings.DEFAULT_SCENARIO).with_overrides({"optimize.viable": True})
    terms = sc.economics
    assert terms is not None
    spec = SimpleNamespace(name="programme", cost=10e6)
    demand = demand_of({"residents": 25.0, "taxis": 30.0})
    site_cost = np.array([0.0, 2e6])
    use, least = least_use(sc, demand, [spec], site_cost, 2)  # type: ignore[arg-type, list-item]
    assert use == (25.0, 30.0) and least is not None
    a = annuity_factor(terms.discount_rate, terms.lease_years)
    per_kwh_year = terms.days_per_year * (
        terms.price / (1 + terms.vat) - terms.electricity_cost / (1 - terms.losses)
    )
    for j, capital in enumerate([10e6, 12e6]):
        need = capital / a + terms.fixed_opex_year + terms.opex_capital_share * capital
        assert least["programme"][j] == pytest.approx(need / per_kwh_year)
    off = load_scenario(settings.DEFAULT_SCENARIO)
    assert least_use(off, demand, [spec], None, 2) == (None, None)  # type: ignore[arg-type, list-item]
    # a price below the electricity cost: no station can pay, said before any solve
    from siting.errors import InputError

    cheap = sc.with_overrides({"economics.price": 10.0})
    with pytest.raises(InputError, match=r"optimize\.viable: no station pays back"):
        least_use(cheap, demand, [spec], None, 2)  # type: ignore[arg-type, list-item]


def test_the_summary_says_how_many_stations_a_viable_plan_builds(small_run) -> None:  # type: ignore[no-untyped-def]
    from siting.summary import summary

    result, _ = small_run
    assert result.kpis["viable"] == {"on": False}
    assert "plans that pay" not in summary(result.kpis)
    kpis = {**result.kpis, "viable": {"on": True, "new_allowed": 311, "new_built": 7}}
    assert "the plan builds 7 of the 311 new stations it may" in summary(kpis)


def test_a_plan_worth_nothing_against_a_bound_says_so_not_a_ratio() -> None:
    """A viable plan of no station (objective 0) stopped by its limit: the relative gap
    (1e14 %) says nothing; the label gives the objective and the bound."""
    from siting.optimize._report import SolveInfo

    empty = SolveInfo("feasible", 0.0, 16312.9, 1.6e12, "highs", 1.0, 1e-4, "time limit")
    assert empty.describe() == "feasible, objective 0 against a bound of 16312.9 (time limit)"
    near = SolveInfo("feasible", 100.0, 101.0, 0.01, "highs", 1.0, 1e-4, "time limit")
    assert near.describe() == "feasible, gap 1.00% (time limit)"
