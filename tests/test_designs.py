"""Station designs and demand classes in the capacitated model, against brute force.

Each instance is small enough to enumerate every plan (sites and their designs) and
solve what each plan serves as its own LP with scipy's ``linprog`` (not the model's
rows), so the model's integer program is checked against an independent optimum.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linprog

from siting.errors import InfeasibleError, InputError
from siting.optimize import CapacitatedCoverage, MinimumPlan
from siting.optimize.capacitated.design import Design

NAN = math.nan


def instance(seed: int, n: int = 7, m: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drive times (n x m), demand of 3 classes (3 x n), each site's own cost."""
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0.0, 10.0, size=(n, m))
    demand = rng.uniform(0.0, 4.0, size=(3, n)) * (rng.random((3, n)) < 0.8)
    return cost, demand, rng.uniform(0.0, 3.0, size=m)


def designs(m: int) -> list[Design]:
    """A small AC post for classes 0 and 1, a DC station for all, a hub only at sites
    0 and 1; units (hours per session) differ by class and design."""
    return [
        Design("ac", 6.0, (2.0, 1.5, NAN), cost=2.0, charger="AC"),
        Design("dc", 8.0, (0.8, 0.6, 1.0), cost=5.0, charger="DC"),
        Design("hub", 20.0, (0.5, 0.5, 0.7), cost=9.0, charger="DC", sites=frozenset({0, 1})),
    ]


def served_lp(
    cost: np.ndarray,
    demand: np.ndarray,
    limits: list[float],
    plan: dict[int, Design],
    weight: np.ndarray,
    least: dict[str, float] | None = None,
    use: np.ndarray | None = None,
) -> tuple[float, float]:
    """(weighted, unweighted) sessions the stations of ``plan`` serve at best; with
    ``least``, each station used at least ``least[design]`` (``use`` per session of
    each class): (-inf, -inf) when no assignment manages that."""
    keys = [
        (c, i, j)
        for c in range(demand.shape[0])
        for i in range(demand.shape[1])
        for j, d in plan.items()
        if demand[c, i] > 0 and cost[i, j] <= limits[c] and d.serves(c)
    ]
    if not keys:
        return (
            (0.0, 0.0)
            if not any((least or {}).get(d.name, 0) for d in plan.values())
            else (
                -np.inf,
                -np.inf,
            )
        )
    obj = np.array([-weight[c] * demand[c, i] for c, i, _ in keys])
    rows, rhs = [], []
    for c, i in {(c, i) for c, i, _ in keys}:
        rows.append([1.0 if (k[0], k[1]) == (c, i) else 0.0 for k in keys])
        rhs.append(1.0)
    for j, d in plan.items():
        rows.append([demand[c, i] * d.units[c] if jj == j else 0.0 for c, i, jj in keys])
        rhs.append(d.capacity)
    for j, d in plan.items():
        if least and least.get(d.name, 0.0) > 0:
            u = np.ones(demand.shape[0]) if use is None else use
            rows.append([-demand[c, i] * u[c] if jj == j else 0.0 for c, i, jj in keys])
            rhs.append(-least[d.name])
    res = linprog(obj, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=(0, 1), method="highs")
    if least and res.status == 2:
        return -np.inf, -np.inf
    assert res.status == 0
    plain = float(sum(demand[c, i] * x for (c, i, _), x in zip(keys, res.x, strict=True)))
    return -float(res.fun), plain


def plans(m: int, sizes: list[int], ds: list[Design]):
    for p in sizes:
        for sites in itertools.combinations(range(m), p):
            for kinds in itertools.product(ds, repeat=p):
                if all(d.allowed_at(j) for j, d in zip(sites, kinds, strict=True)):
                    yield dict(zip(sites, kinds, strict=True))


def model_of(cost, demand, limits, p, **options) -> CapacitatedCoverage:
    m = cost.shape[1]
    nb = cost <= max(limits)
    class_nb = [cost <= t for t in limits]
    import scipy.sparse as sp

    return CapacitatedCoverage.from_designs(
        sp.csr_array(nb),
        demand,
        designs(m),
        p,
        classes=("residents", "inbound", "taxis"),
        class_neighbours=[sp.csr_array(x) for x in class_nb],
        **options,
    )


@pytest.mark.parametrize("seed", range(6))
def test_design_choice_matches_brute_force(seed: int) -> None:
    cost, demand, site_cost = instance(seed)
    limits = [3.0, 4.0, 7.0]  # taxis accept the longest trip
    weight = np.array([1.0, 1.0, 1.5])
    budget = 14.0
    model = model_of(
        cost, demand, limits, 2, site_cost=site_cost, class_weight=weight, budget=budget
    )
    res = model.solve("highs", gap=0.0)
    best = max(
        served_lp(cost, demand, limits, plan, weight)[0]
        for plan in plans(cost.shape[1], [1, 2], designs(cost.shape[1]))
        if sum(d.cost + site_cost[j] for j, d in plan.items()) <= budget + 1e-9
    )
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    x = res.extra
    assert x["cost"] <= budget + 1e-9
    # every assignment within its class's own reach, at a design serving it
    r, c, v, cls = x["assignment"]
    sites = res.selected
    for i, k, val, kind in zip(r, c, v, cls, strict=True):
        j = int(sites[k])
        assert cost[i, j] <= limits[kind] + 1e-12
        assert model.design_at(j, str(x["designs"][k])).serves(int(kind))
        assert val > 0
    # each station within its units, and no class served more than its demand
    for k, j in enumerate(sites.tolist()):
        d = model.design_at(j, str(x["designs"][k]))
        used = sum(val * d.units[kind] for kk, val, kind in zip(c, v, cls, strict=True) if kk == k)
        assert used <= d.capacity + 1e-6
        assert x["utilisation"][k] == pytest.approx(used / d.capacity, abs=1e-9)
    assert np.all(x["served_by_class"] <= demand + 1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_greedy_with_designs_is_a_feasible_plan(seed: int) -> None:
    cost, demand, site_cost = instance(seed)
    limits = [3.0, 4.0, 7.0]
    model = model_of(cost, demand, limits, 3, site_cost=site_cost)
    start = model.greedy()
    used = dict.fromkeys(start["types"], 0.0)
    for c, xs in enumerate(start["x"]):
        for (i, j), share in xs.items():
            d = model.design_at(j, start["types"][j])
            assert d.serves(c) and cost[i, j] <= limits[c] and 0 <= share <= 1 + 1e-12
            used[j] += share * demand[c, i] * d.units[c]
    for j, t in start["types"].items():
        assert used[j] <= model.design_at(j, t).capacity + 1e-9
    res = model.solve("highs", gap=0.0)
    assert model.plan_served(start) <= res.objective + 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_minimum_plan_with_site_costs_matches_brute_force(seed: int) -> None:
    cost, demand, site_cost = instance(seed, n=6, m=4)
    limits = [3.0, 4.0, 7.0]
    model = model_of(cost, demand, limits, 1, site_cost=site_cost)
    minimum = MinimumPlan.from_model(model, 0.6)
    reachable = minimum.reachable()
    need = 0.6 * reachable
    ones = np.ones(3)
    feasible = [
        (sum(d.cost + site_cost[j] for j, d in plan.items()), plan)
        for plan in plans(4, [1, 2, 3, 4], designs(4))
        if served_lp(cost, demand, limits, plan, ones)[1] >= need - 1e-7
    ]
    if not feasible:
        with pytest.raises(InfeasibleError):
            minimum.solve("highs", gap=0.0)
        return
    best = min(c for c, _ in feasible)
    res = minimum.solve("highs", gap=0.0)
    assert res.extra["cost"] == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert res.extra["served"] >= need - 1e-6
    # the capacity bound is a bound: no plan serving the target costs less
    from siting.optimize.minimum._capacitated import capacity_bound

    assert 0.0 < capacity_bound(model, need, "cost") <= best + 1e-9
    assert res.bound is not None and res.bound <= best * (1 + 1e-5)  # its tie-break aside


def test_a_minimum_plan_stopped_before_any_plan_returns_its_equity_held_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every class held to the plan's share (``class_equity = 1``): the greedy start
    grows until, cut back to the equity floor, it still serves the target; HiGHS
    stopped before a plan of its own returns that start, feasible and said so."""
    from siting.errors import TimeLimitError
    from siting.optimize import _solvers

    cost, demand, site_cost = instance(3, n=12, m=8)
    # weighted by energy: the target stays in sessions
    model = model_of(
        cost, demand, [3.0, 4.0, 7.0], 1, site_cost=site_cost, class_equity=1.0,
        class_weight=[25.0, 20.0, 30.0],
    )  # fmt: skip
    minimum = MinimumPlan.from_model(model, 0.5)

    def stopped(prob, options):  # type: ignore[no-untyped-def]
        if not prob.isMIP():  # the LP of the most served
            return real(prob, options)
        assert options.mip_lp == "ipm"  # a root LP that the limit can stop
        raise TimeLimitError("HiGHS stopped by its time limit before it found a plan")

    real = _solvers.run
    monkeypatch.setattr(_solvers, "run", stopped)
    res = minimum.solve("highs", time_limit=30.0)
    assert res.status == "feasible" and "warm start" in (res.stopped_by or "")
    x = res.extra
    assert x["served"] >= x["required"] - 1e-6
    by_class = x["served_by_class"].sum(axis=1)
    shares = by_class / model.class_total
    assert shares.min() >= by_class.sum() / model.class_total.sum() - 1e-9  # equity held


@pytest.mark.parametrize("seed", range(6))
def test_least_use_matches_brute_force(seed: int) -> None:
    """Every open station sells at least its least use (kWh a day here): the plan
    serves the most any such plan of at most p stations serves, and each of its
    stations meets its floor; a floor no station can meet leaves the plan empty."""
    cost, demand, _ = instance(seed, n=7, m=4)
    limits = [3.0, 4.0, 7.0]
    kwh = np.array([20.0, 15.0, 30.0])  # per session of each class
    least = {"ac": 80.0, "dc": 200.0, "hub": 400.0}  # binding in 4 of the 6 seeds
    model = model_of(cost, demand, limits, 2, class_use=kwh, min_use=least)
    assert not model.exact_p
    ones = np.ones(3)
    best = max(
        [0.0]
        + [
            served_lp(cost, demand, limits, plan, ones, least, kwh)[0]
            for plan in plans(4, [1, 2], designs(4))
        ]
    )
    res = model.solve("highs", gap=0.0)
    assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    _, c, v, k = res.extra["assignment"]
    for pos in range(len(res.selected)):
        sold = float((v[c == pos] * kwh[k[c == pos]]).sum())
        assert sold >= least[str(res.extra["types"][pos])] - 1e-6
    # the greedy start holds the floor too
    from siting.optimize.capacitated._rows import uses_met

    assert uses_met(model, model.greedy())
    never = model_of(
        cost, demand, limits, 2, class_use=kwh, min_use={"ac": 1e6, "dc": 1e6, "hub": 1e6}
    )
    assert never.solve("highs", gap=0.0).selected.tolist() == []


@pytest.mark.parametrize("seed", range(5))
def test_forced_and_closed_sites_match_brute_force(seed: int) -> None:
    """Site 3 forced in (paying its cost, its design the model's choice), site 0 kept
    out: the plan is the best of the plans of p stations holding 3 and not 0."""
    cost, demand, site_cost = instance(seed, n=7, m=5)
    limits = [3.0, 4.0, 7.0]
    model = model_of(cost, demand, limits, 2, site_cost=site_cost, forced=[3], closed=[0])
    ones = np.ones(3)
    best = max(
        served_lp(cost, demand, limits, plan, ones)[0]
        for plan in plans(5, [2], designs(5))
        if 3 in plan and 0 not in plan
    )
    res = model.solve("highs", gap=0.0)
    assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    chosen = res.selected.tolist()
    assert 3 in chosen and 0 not in chosen and len(chosen) == 2
    # the forced site pays its cost
    t = str(res.extra["types"][chosen.index(3)])
    assert model.cost_of(3, t) == pytest.approx(
        designs(5)[[d.name for d in designs(5)].index(t)].cost + site_cost[3]
    )
    greedy = model.greedy()
    assert 3 in greedy["types"] and 0 not in greedy["types"]


def test_forced_and_closed_are_checked() -> None:
    cost, demand, _ = instance(0, n=5, m=4)
    with pytest.raises(InputError, match="both forced and closed"):
        model_of(cost, demand, [3.0, 4.0, 7.0], 2, forced=[1], closed=[1])
    with pytest.raises(InputError, match=r"forced: expected at most p"):
        model_of(cost, demand, [3.0, 4.0, 7.0], 2, forced=[0, 1, 2])
    with pytest.raises(InputError, match=r"closed: expected site indices"):
        model_of(cost, demand, [3.0, 4.0, 7.0], 2, closed=[9])
    with pytest.raises(InputError, match="existing station"):
        model_of(cost, demand, [3.0, 4.0, 7.0], 2, fixed=[1], forced=[1])


def test_least_use_is_checked() -> None:
    cost, demand, _ = instance(0, n=5, m=4)
    with pytest.raises(InputError, match="min_use"):
        model_of(cost, demand, [3.0, 4.0, 7.0], 2, min_use={"tram": 5.0})
    with pytest.raises(InputError, match=r"min_use\['ac'\]"):
        model_of(cost, demand, [3.0, 4.0, 7.0], 2, min_use={"ac": [1.0, 2.0]})
    with pytest.raises(InputError, match=r"min_use\['ac'\]"):
        model_of(cost, demand, [3.0, 4.0, 7.0], 2, min_use={"ac": -1.0})


def test_min_share_holds_a_class_to_its_standard() -> None:
    cost, demand, _ = instance(3)
    limits = [3.0, 4.0, 7.0]
    free = model_of(cost, demand, limits, 1).solve("highs", gap=0.0)
    taxis = free.extra["served_by_class"][2].sum() / demand[2].sum()
    held = model_of(cost, demand, limits, 1, min_share=[0.0, 0.0, min(1.0, taxis + 0.1)])
    try:
        res = held.solve("highs", gap=0.0)
    except InfeasibleError:
        return  # no single station can serve that many taxis: refused, not ignored
    assert res.extra["served_by_class"][2].sum() >= (taxis + 0.1) * demand[2].sum() - 1e-6
    assert res.objective <= free.objective + 1e-9


def test_mixed_classes_load_a_station_by_their_own_hours() -> None:
    """One station of 10 port-hours; residents take 2 h a session, taxis 0.5 h.
    With more demand than room, the station is full in hours: 2 a + 0.5 b = 10."""
    import scipy.sparse as sp

    design = Design("dc", 10.0, (2.0, 0.5), cost=1.0, charger="DC")
    nb = sp.csr_array(np.ones((2, 1), dtype=bool))
    demand = np.array([[3.0, 0.0], [0.0, 30.0]])
    res = CapacitatedCoverage.from_designs(nb, demand, [design], 1).solve("highs", gap=0.0)
    by_class = res.extra["served_by_class"].sum(axis=1)
    assert 2.0 * by_class[0] + 0.5 * by_class[1] == pytest.approx(10.0)
    assert res.objective == pytest.approx(20.0)  # taxis first: 20 sessions of 0.5 h
    assert res.extra["utilisation"][0] == pytest.approx(1.0)
    assert res.extra["capacity"][0] == pytest.approx(20.0)  # sessions at its mix
    # weighting residents 5x makes their 3 sessions worth the 6 hours they take
    w = CapacitatedCoverage.from_designs(nb, demand, [design], 1, class_weight=[5.0, 1.0])
    by_class = w.solve("highs", gap=0.0).extra["served_by_class"].sum(axis=1)
    assert by_class[0] == pytest.approx(3.0) and by_class[1] == pytest.approx(8.0)


def test_a_station_serving_only_taxis_reaches_the_taxi_capacity() -> None:
    import scipy.sparse as sp

    design = Design("dc", 12.0, (1.5, 0.75), cost=1.0, charger="DC")
    nb = sp.csr_array(np.ones((1, 1), dtype=bool))
    res = CapacitatedCoverage.from_designs(nb, np.array([[0.0], [100.0]]), [design], 1).solve(
        "highs", gap=0.0
    )
    assert res.objective == pytest.approx(design.sessions(1)) == pytest.approx(16.0)
    assert res.extra["capacity"][0] == pytest.approx(16.0)


def test_a_solve_stopped_before_any_plan_returns_the_warm_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HiGHS stopped by its limit before it found a plan: the greedy start is a whole
    plan, so it is the answer, reported feasible with what stopped it."""
    from siting.errors import TimeLimitError
    from siting.optimize import _solvers

    cost, demand, site_cost = instance(1)
    model = model_of(cost, demand, [3.0, 4.0, 7.0], 2, site_cost=site_cost)
    start = model.greedy()

    def stopped(*_: object, **__: object) -> None:
        raise TimeLimitError("HiGHS stopped by its time limit before it found a plan")

    monkeypatch.setattr(_solvers, "run", stopped)
    res = model.solve("highs", time_limit=5.0)
    assert res.status == "feasible" and "warm start" in (res.stopped_by or "")
    assert sorted(res.selected.tolist()) == sorted(start["types"])
    assert res.objective == pytest.approx(model.plan_served(start))
    # a start short of a minimum share is no plan: the error stands
    held = model_of(cost, demand, [3.0, 4.0, 7.0], 2, min_share=[1.0, 1.0, 1.0])
    with pytest.raises(TimeLimitError):
        held.solve("highs", time_limit=5.0)


def test_a_limit_shorter_than_building_the_model_returns_the_warm_start_unbuilt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A time limit that would leave the solver nothing once the model is built: the
    greedy plan at once, said so, and no solver run; with time enough, the solver."""
    from siting import settings
    from siting.optimize import _solvers

    cost, demand, site_cost = instance(2)
    model = model_of(cost, demand, [3.0, 4.0, 7.0], 2, site_cost=site_cost)
    start = model.greedy()
    pairs = sum(int(m.nnz) for m in model.class_nb)
    monkeypatch.setattr(settings, "BUILD_PAIRS_PER_S", pairs / 2.0)  # 2 s to build
    runs: list[object] = []
    real = _solvers.run
    monkeypatch.setattr(_solvers, "run", lambda *a, **k: runs.append(a) or real(*a, **k))
    res = model.solve("highs", time_limit=2.0)
    assert runs == [] and res.status == "feasible"
    assert "less than building" in (res.stopped_by or "")
    assert sorted(res.selected.tolist()) == sorted(start["types"])
    assert res.objective == pytest.approx(model.plan_served(start))
    assert res.gap is None  # no bound: nothing proven
    exact = model.solve("highs", time_limit=2.5, gap=0.0)
    assert len(runs) == 1 and exact.status == "optimal"
    assert exact.objective >= res.objective - 1e-9


def test_each_class_reads_the_drive_times_of_its_own_pairs() -> None:
    import scipy.sparse as sp

    from siting.optimize.capacitated._rows import class_times

    rng = np.random.default_rng(0)
    cost = rng.uniform(0.5, 10.0, (30, 12))

    class Times:
        matrix = sp.csr_array(np.where(cost <= 8.0, cost, 0.0))
        cutoff_s = 10.0

        def neighbours(self, threshold_s: float) -> sp.csr_array:
            return sp.csr_array(self.matrix <= threshold_s)

    model = CapacitatedCoverage.from_design_times(
        Times(), rng.random((2, 30)), [Design("d", 5.0, (1.0, 2.0))], 3, thresholds_s=[4.0, 8.0]
    )
    for c in range(2):
        cnb = model.class_nb[c]
        rows = np.repeat(np.arange(30), np.diff(cnb.indptr))
        assert np.allclose(class_times(model, c), cost[rows, cnb.indices])
