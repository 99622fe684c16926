"""Costed plans: frontier, knee, secondary order, minimum plans, reconciliation, existing."""

from __future__ import annotations

import itertools

import numpy as np
import pulp
import pytest
import scipy.sparse as sp

from siting.errors import InfeasibleError, InputError
from siting.existing import merge_stations, parse_ocm_record, parse_osm_tags, read_ocm
from siting.frontier import choose, cost_frontier
from siting.optimize import CapacitatedCoverage, MinimumPlan
from siting.optimize.minimum import _cover
from tests.test_capacitated import _served_mixed, instance

CAP = {"AC": 2.0, "DC": 3.5}
PRICE = {"AC": 1.0, "DC": 6.0}


def _frontier(cost, ac, dc, p, threshold, solver="highs"):  # type: ignore[no-untyped-def]
    def solve(max_dc, budget):  # type: ignore[no-untyped-def]
        return CapacitatedCoverage.from_cost_matrix(
            cost, ac, dc, CAP, p, threshold=threshold, station_cost=PRICE,
            secondary="cost" if max_dc is None else False, max_dc=max_dc, budget=budget,
            dc_exact=True,
        ).solve(solver, gap=0.0)  # fmt: skip

    return cost_frontier(solve, n_new=p, points=p + 1)


@pytest.mark.parametrize("seed", [1, 2])
def test_frontier_is_monotone_and_each_point_matches_brute_force(seed: int) -> None:
    cost, ac, dc = instance(seed, n=14, m=6)
    p, thr = 3, 3.5
    front = _frontier(cost, ac, dc, p, thr)
    served = [pt.served for pt in front]
    costs = [pt.cost for pt in front]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(served))
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(costs))
    for pt in front:
        k = pt.max_dc if pt.max_dc is not None else p
        best = max(
            _served_mixed(cost, ac, dc, CAP, sites, kinds, thr)
            for sites in itertools.combinations(range(6), p)
            for kinds in itertools.product(["AC", "DC"], repeat=p)
            if kinds.count("DC") == k
        )
        assert pt.served == pytest.approx(best, abs=1e-6)
        assert pt.result.status == "optimal"


def test_residents_only_city_gets_ac_stations_when_ac_is_cheaper_per_session() -> None:
    cost, ac, _ = instance(5, n=40, m=12)
    dc = np.zeros_like(ac)  # residents only: AC demand
    front = _frontier(cost, ac * 3, dc, 5, 4.0)
    pick = front[choose(front, "knee")]
    assert set(pick.result.extra["types"]) == {"AC"}
    # the most-serving plan upgrades to DC: the knee is a choice by value, not by default
    assert "DC" in set(front[choose(front, "max_served")].result.extra["types"])


def test_knee_of_a_bent_frontier_is_the_bend() -> None:
    class Pt:
        def __init__(self, c: float, s: float) -> None:
            self.cost, self.served = c, s

    pts = [Pt(0, 0), Pt(1, 8), Pt(2, 9), Pt(4, 10)]
    assert choose(pts, "knee") == 1  # type: ignore[arg-type]
    assert choose(pts, "max_served") == 3  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [3, 4])
def test_highs_and_cbc_agree_on_served_and_on_the_secondary_order(seed: int) -> None:
    cost, ac, dc = instance(seed, n=40, m=14)
    out = {}
    for solver in ("highs", "cbc"):
        model = CapacitatedCoverage.from_cost_matrix(
            cost, ac, dc, {"AC": 2.0, "DC": 3.0}, 5, threshold=3.0, secondary=True,
            station_cost=PRICE,
        )  # fmt: skip
        res = model.solve(solver, gap=1e-4)
        assert res.status == "optimal"
        out[solver] = (res.objective, res.extra["secondary"]["value"])
    (s_h, c_h), (s_c, c_c) = out["highs"], out["cbc"]
    assert s_h == pytest.approx(s_c, rel=1e-4)
    assert c_h == pytest.approx(c_c, rel=1e-4, abs=1e-3)


def _brute_min(cov: np.ndarray, w: np.ndarray, target: float) -> int:
    m = cov.shape[1]
    reach = w[cov.any(axis=1)].sum()
    for k in range(1, m + 1):
        for combo in itertools.combinations(range(m), k):
            if w[cov[:, list(combo)].any(axis=1)].sum() >= target * reach - 1e-9:
                return k
    return m


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("target", [1.0, 0.8])
def test_minimum_cover_matches_brute_force(seed: int, target: float) -> None:
    cost, ac, dc = instance(seed, n=25, m=9)
    res = MinimumPlan.from_cost_matrix(
        cost, ac, dc, target, threshold=3.0, objective="stations"
    ).solve()
    assert res.objective == _brute_min(cost <= 3.0, ac + dc, target)


@pytest.mark.parametrize("seed", range(3))
def test_minimum_cover_matches_spopt_lscp(seed: int) -> None:
    from spopt.locate import LSCP

    cost, ac, dc = instance(seed, n=40, m=15)
    cost = np.where(cost.min(axis=1, keepdims=True) <= 3.0, cost, 0.0)  # all reachable
    ours = MinimumPlan.from_cost_matrix(cost, ac, dc, 1.0, threshold=3.0, objective="stations")
    theirs = LSCP.from_cost_matrix(cost, 3.0).solve(pulp.HiGHS(msg=False))
    assert ours.solve().objective == pytest.approx(pulp.value(theirs.problem.objective))


def test_capacitated_minimum_plan_matches_brute_force_and_explains_capacity() -> None:
    cost, ac, dc = instance(7, n=14, m=6)
    model = MinimumPlan.from_cost_matrix(
        cost, ac, dc, 0.5, threshold=3.5, capacity=CAP, station_cost=PRICE
    )
    res = model.solve(gap=0.0)
    need = 0.5 * model.reachable()
    best = min(
        sum(PRICE[t] for t in kinds)
        for k in range(1, 7)
        for sites in itertools.combinations(range(6), k)
        for kinds in itertools.product(["AC", "DC"], repeat=k)
        if _served_mixed(cost, ac, dc, CAP, sites, kinds, 3.5) >= need - 1e-6
    )
    assert res.objective == pytest.approx(best)
    with pytest.raises(InfeasibleError, match="capacity serves at most"):
        MinimumPlan.from_cost_matrix(
            cost, ac * 50, dc * 50, 1.0, threshold=3.5, capacity=CAP, station_cost=PRICE
        ).solve()


@pytest.mark.parametrize(
    "station_cost",
    [
        {0: 10.0, 1: 1.0, 2: 1.0},  # by site index
        np.array([10.0, 1.0, 1.0]),
        [("AC", 1.0)],
        {"AC": 1.0, "DC": -5.0},
        {"AC": float("nan")},
        {"AC": "1"},
        {"AC": True},
        {"ac": 1.0},
    ],
    ids=["site-keys", "array", "pairs", "negative", "nan", "text", "bool", "lower-case"],
)
@pytest.mark.parametrize("capacity", [None, CAP], ids=["cover", "capacitated"])
def test_minimum_plan_rejects_station_cost_not_per_charger_type(
    station_cost: object, capacity: dict[str, float] | None
) -> None:
    nb = sp.csr_array(np.eye(3, dtype=bool))
    with pytest.raises(InputError) as info:
        MinimumPlan(nb, np.ones(3), np.zeros(3), 1.0, capacity=capacity, station_cost=station_cost)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("station_cost: expected a mapping from charger type 'AC'/'DC'")
    assert "got " in msg


def test_minimum_plan_prices_dc_demand_at_a_dc_station() -> None:
    nb = sp.csr_array(np.array([[True, False], [False, True]]))
    only_dc = np.array([2.0, 3.0])
    res = MinimumPlan(nb, np.zeros(2), only_dc, 1.0, station_cost={"AC": 1.0, "DC": 5.0}).solve()
    assert res.status == "optimal"
    assert res.objective == pytest.approx(10.0)
    assert list(res.extra["types"]) == ["DC", "DC"]
    # a point with AC demand only takes the cheaper AC station
    mixed = MinimumPlan(
        nb, np.array([1.0, 0.0]), np.array([0.0, 3.0]), 1.0, station_cost={"AC": 1.0, "DC": 5.0}
    ).solve()
    assert mixed.objective == pytest.approx(6.0)
    assert list(mixed.extra["types"]) == ["AC", "DC"]
    with pytest.raises(InfeasibleError, match="station_cost has no 'DC' type"):
        MinimumPlan(nb, np.zeros(2), only_dc, 1.0, station_cost={"AC": 1.0}).solve()


def _brute_min_typed(  # type: ignore[no-untyped-def]
    near, ac, dc, target, price, objective, fixed=()
):
    """Brute force: every site closed or of each priced type; AC demand is covered by
    any open station within reach, DC demand by a DC one. The least cost (or the
    fewest new stations, then the least cost); None when no plan reaches the target."""
    w = ac + dc
    need = target * w[near.any(axis=1)].sum()
    best = None
    for kinds in itertools.product([None, *sorted(price)], repeat=near.shape[1]):
        if any(kinds[j] is None for j in fixed):
            continue
        is_open = np.array([k is not None for k in kinds])
        is_dc = np.array([k == "DC" for k in kinds])
        served = ac[near[:, is_open].any(axis=1)].sum() + dc[near[:, is_dc].any(axis=1)].sum()
        if served < need - 1e-9:
            continue
        new = [k for j, k in enumerate(kinds) if k is not None and j not in fixed]
        cost = sum(price[k] for k in new)
        key = (cost,) if objective == "cost" else (len(new), cost)
        best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize("seed", range(12))
def test_minimum_cover_with_station_types_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    near = rng.random((9, 5)) < 0.35
    ac = np.where(rng.random(9) < 0.6, rng.uniform(0.5, 3, 9).round(1), 0.0)
    dc = np.where(rng.random(9) < 0.5, rng.uniform(0.5, 3, 9).round(1), 0.0)
    prices = [{"AC": 1.0, "DC": 5.0}, {"AC": 2.0, "DC": 3.0}, {"AC": 4.0, "DC": 3.0}, {"DC": 2.0}]
    price = prices[seed % 4]
    target = [1.0, 0.7, 0.4][seed % 3]
    objective = "cost" if seed % 2 else "stations"
    fixed = (0,) if seed % 5 == 0 else ()
    best = _brute_min_typed(near, ac, dc, target, price, objective, fixed)
    model = MinimumPlan(
        sp.csr_array(near), ac, dc, target, station_cost=price, objective=objective,
        fixed=np.array(fixed, dtype=np.int64),
    )  # fmt: skip
    if best is None:
        with pytest.raises(InfeasibleError):
            model.solve(gap=0.0)
        return
    res = model.solve(gap=0.0)
    assert res.status == "optimal"
    got = (res.objective,) if objective == "cost" else (res.objective, res.extra["cost"])
    assert got == pytest.approx(best)
    assert res.extra["served"] >= res.extra["required"] - 1e-9
    assert set(fixed) <= set(res.selected.tolist())
    # the warm start (greedy) is a plan meeting the target too
    cols = _cover.columns(
        5, model.fixed, {}, price, dc_needed=bool((dc[near.any(axis=1)] > 0).any())
    )
    demand = _cover.parts(model.neighbours, ac, dc, cols)
    start = _cover.greedy(cols, demand, res.extra["required"], objective=objective)
    assert (
        sum(p.weight for p in demand if start.intersection(p.cols)) >= res.extra["required"] - 1e-9
    )


def test_minimum_cover_keeps_an_existing_site_within_reach_of_nobody() -> None:
    nb = sp.csr_array(np.array([[False, True, False], [False, False, True]]))
    res = MinimumPlan(nb, np.ones(2), np.zeros(2), 1.0, fixed=np.array([0])).solve()
    assert res.selected.tolist() == [0, 1, 2]
    assert res.extra["stations"] == 3


def test_per_station_figures_add_up_to_served_and_covered() -> None:
    from siting.metrics import evaluate_plan

    class TT:
        def __init__(self, m: np.ndarray) -> None:
            self.m = m

        def nearest(self, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            sub = self.m[:, sel]
            return sub.min(axis=1), np.asarray(sel)[sub.argmin(axis=1)]

    import geopandas as gpd
    import pandas as pd

    cost, ac, dc = instance(9, n=30, m=10)
    model = CapacitatedCoverage.from_cost_matrix(cost, ac, dc, CAP, 4, threshold=3.0)
    res = model.solve(gap=0.0)
    demand = pd.DataFrame({"demand_id": range(30), "sessions_day": ac + dc})
    sites = gpd.GeoDataFrame({"site_id": [f"S{j}" for j in range(10)], "existing": False})
    kpis, per_site, _ = evaluate_plan(
        demand, sites, res.selected, TT(cost), threshold_s=3.0,  # type: ignore[arg-type]
        served=res.extra["served_ac"] + res.extra["served_dc"],
        assignment=res.extra["assignment"],
    )  # fmt: skip
    assert per_site["sessions_served"].sum() == pytest.approx(kpis["demand_served"], rel=1e-9)
    assert per_site["sessions_served"].to_numpy() == pytest.approx(res.extra["load"])
    assert per_site["area_sessions"].sum() == pytest.approx(kpis["demand_covered"], rel=1e-9)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"amenity": "charging_station", "capacity": "2", "socket:type2": "2",
          "socket:type2:output": "22 kW"}, (2.0, "AC", 22.0)),
        ({"amenity": "charging_station", "socket:type2_combo": "1", "socket:chademo": "1",
          "socket:type2_combo:output": "50 kW"}, (2.0, "DC", 50.0)),
        ({"amenity": "charging_station", "capacity": "4"}, (4.0, "", np.nan)),
        ({"amenity": "charging_station", "socket:schuko": "1",
          "socket:schuko:output": "3700 W"}, (1.0, "AC", 3.7)),
    ],
)  # fmt: skip
def test_osm_charging_station_tags(tags: dict[str, str], expected: tuple) -> None:  # type: ignore[type-arg]
    got = parse_osm_tags(tags)
    ports, kind, kw = expected
    assert got["ports"] == ports and got["station_type"] == kind
    assert (np.isnan(got["kw"]) and np.isnan(kw)) or got["kw"] == pytest.approx(kw)


def test_open_charge_map_records_and_merging() -> None:
    dc = {
        "ID": 1,
        "AddressInfo": {"Title": "Fast", "Latitude": 43.2, "Longitude": 76.9},
        "Connections": [{"CurrentTypeID": 30, "LevelID": 3, "PowerKW": 120, "Quantity": 4}],
    }
    ac = {
        "ID": 2,
        "AddressInfo": {"Title": "Post", "Latitude": 43.25, "Longitude": 76.95},
        "Connections": [{"CurrentTypeID": 20, "PowerKW": 22, "Quantity": 2}],
    }
    bare = {"ID": 3, "AddressInfo": {"Title": "?", "Latitude": 43.3, "Longitude": 76.8}}
    assert parse_ocm_record(dc)["station_type"] == "DC" and parse_ocm_record(dc)["ports"] == 4
    assert parse_ocm_record(ac)["station_type"] == "AC" and parse_ocm_record(ac)["kw"] == 22
    assert parse_ocm_record(bare)["station_type"] == ""
    table = read_ocm([dc, ac, bare], origin="test", field="candidates.existing")
    osm = table.iloc[[0]].assign(source="osm:node/9", lat=43.20001, station_type="", kw=np.nan)
    merged = merge_stations([table, osm])
    assert len(merged) == 3
    assert merged.loc[0, "source"] == "ocm:1+osm:node/9" and merged.loc[0, "kw"] == 120


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_cheap_greedy_upgrades_to_dc_until_it_reaches_the_target(seed: int) -> None:
    """The least-cost warm start of a minimum plan: AC stations everywhere serve too
    little, so it upgrades the most useful ones to DC until the target is met, and the
    plan it hands the solver respects every capacity."""
    cost, ac, dc = instance(seed, n=40, m=10)
    model = CapacitatedCoverage.from_cost_matrix(
        cost, ac * 3, dc * 3, CAP, 10, threshold=4.0, station_cost=PRICE
    )
    everything_dc = CapacitatedCoverage.from_cost_matrix(
        cost, ac * 3, dc * 3, {"DC": CAP["DC"]}, 10, threshold=4.0, fixed=np.arange(10)
    ).solve("highs", gap=0.0)
    all_ac = model.greedy(per_cost=True)
    target = 0.98 * everything_dc.objective
    assert model.plan_served(all_ac) < target  # AC everywhere is not enough
    plan = model.greedy(stop_at=target, per_cost=True)
    assert model.plan_served(plan) >= target - 1e-9
    assert "DC" in plan["types"].values()
    load = np.zeros(10)
    for k, (kind, amounts) in enumerate((("u", ac * 3), ("v", dc * 3))):
        for (i, j), share in plan["x"][k].items():
            assert share <= 1.0 + 1e-9
            load[j] += share * amounts[i]
            assert kind == "u" or plan["types"][j] == "DC"  # DC demand only at DC
    for j, t in plan["types"].items():
        assert load[j] <= CAP[t] + 1e-9
    for k in (0, 1):  # no point served more than once over
        per_point = np.zeros(40)
        for (i, _), share in plan["x"][k].items():
            per_point[i] += share
        assert per_point.max() <= 1.0 + 1e-9
