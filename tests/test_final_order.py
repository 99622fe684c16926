"""The final order among plans of equal value (``capacitated._polish``).

When every station is full, many plans serve the same: the final order moves the
solver's plan to preferred sites without changing what it serves, so that HiGHS
and CBC write the same stations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from siting.errors import InputError
from siting.optimize import CapacitatedCoverage
from siting.optimize.capacitated import _polish
from siting.optimize.capacitated.design import Design

NAN = math.nan


def saturated(
    seed: int,
    *,
    n: int = 60,
    m: int = 30,
    p: int = 8,
    reach: float = 2.0,
    secondary: bool | str = True,
    **options,
):
    """Points and sites on a 10 x 10 square, three classes with their own reach (taxis
    further), one design far smaller than the demand: every plan of ``p`` stations in
    busy places is full, so many plans serve the same."""
    rng = np.random.default_rng(seed)
    pts, sites = rng.random((n, 2)) * 10, rng.random((m, 2)) * 10
    dist = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    limits = [reach, reach, 1.75 * reach]
    class_nb = [sp.csr_array(dist <= t) for t in limits]
    demand = rng.uniform(1.0, 4.0, size=(3, n))
    design = Design("programme", 6.0, (1.0, 0.8, 1.2), cost=10.0, charger="DC")
    model = CapacitatedCoverage.from_designs(
        sp.csr_array(dist <= max(limits)),
        demand,
        [design],
        p,
        classes=("residents", "inbound", "taxis"),
        class_neighbours=class_nb,
        secondary=secondary,
        **options,
    )
    return model, dist, limits


def loads(res) -> dict[int, np.ndarray]:
    """Sessions per class at each open site."""
    _r, c, v, cls = res.extra["assignment"]
    out: dict[int, np.ndarray] = {int(j): np.zeros(3) for j in res.selected}
    for k, val, kind in zip(c, v, cls, strict=True):
        out[int(res.selected[k])][kind] += val
    return out


def uses(model, res) -> list[float]:
    """Units of its capacity each open site uses."""
    return [
        float(np.nan_to_num(model.design_at(j, str(t)).units) @ load)
        for (j, load), t in zip(loads(res).items(), res.extra["designs"], strict=True)
    ]


def unpolished(model, monkeypatch, solver: str = "highs"):
    """The plan the solver returns before the final order: the same integer program
    (ties broken by cost), the final order off."""
    with monkeypatch.context() as mp:
        mp.setattr(_polish, "applies", lambda _m: "off in this test")
        model.secondary = "cost"
        try:
            return model.solve(solver, gap=0.0)
        finally:
            model.secondary = True


@pytest.mark.parametrize("seed", range(4))
def test_the_final_order_keeps_what_the_plan_serves(seed: int, monkeypatch) -> None:
    model, dist, limits = saturated(seed, class_equity=1.0)
    before = unpolished(model, monkeypatch)
    after = model.solve("highs", gap=0.0)
    order = after.extra["final_order"]
    assert order["applied"] and before.extra["final_order"] is None
    # the same served total, class by class, and the same number of stations
    assert after.objective == pytest.approx(before.objective, rel=1e-9)
    np.testing.assert_allclose(
        after.extra["served_by_class"].sum(axis=1),
        before.extra["served_by_class"].sum(axis=1),
        rtol=1e-9,
    )
    assert len(after.selected) == len(before.selected) == model.p
    # every station keeps its use of its capacity (a moved one takes the old
    # site's), within its capacity and its classes' reach
    assert sorted(np.round(uses(model, after), 9)) == sorted(np.round(uses(model, before), 9))
    r, c, _v, cls = after.extra["assignment"]
    for i, k, kind in zip(r, c, cls, strict=True):
        assert dist[i, after.selected[k]] <= limits[kind] + 1e-12
    assert np.all(after.extra["utilisation"] <= 1 + 1e-9)
    assert np.all(after.extra["served_by_class"] <= model.demand + 1e-9)
    # demand within reach never falls
    assert order["covered_after"] >= order["covered_before"] - 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_highs_and_cbc_write_the_same_stations(seed: int) -> None:
    """Where every plan has the demand within reach (a long reach), as on Almaty where
    most moves keep it."""
    model, _, _ = saturated(seed, reach=6.0, class_equity=1.0)
    a = model.solve("highs", gap=0.0)
    b = model.solve("cbc", gap=0.0)
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert a.selected.tolist() == b.selected.tolist()


def ends_of(model, *plans) -> list[set[int]]:
    """The sites each solved plan ends on after the final order."""
    ends = []
    for res in plans:
        shares = {
            (int(kind), int(i), int(res.selected[k])): float(val / model.demand[kind, i])
            for i, k, val, kind in zip(*res.extra["assignment"], strict=True)
        }
        site_type = np.full(model.neighbours.shape[1], "", dtype=object)
        site_type[res.selected] = res.extra["designs"]
        done = _polish.polish(model, site_type, shares)
        assert done.covered_after >= done.covered_before - 1e-9
        ends.append(set(np.flatnonzero(done.site_type != "").tolist()))
    return ends


@pytest.mark.parametrize("seed", range(6))
def test_plans_of_equal_value_end_on_the_same_stations(seed: int, monkeypatch) -> None:
    """Closing one of the plan's stations gives another plan serving as much; where
    every plan has the demand within reach (the reach is long), both end on the same
    sites."""
    model, _, _ = saturated(seed, reach=6.0, class_equity=1.0)
    first = unpolished(model, monkeypatch)
    other_model, _, _ = saturated(
        seed, reach=6.0, class_equity=1.0, closed=np.array([int(first.selected[-1])])
    )
    other = unpolished(other_model, monkeypatch)
    assert other.objective == pytest.approx(first.objective, rel=1e-9)
    assert set(other.selected.tolist()) != set(first.selected.tolist())
    a, b = ends_of(model, first, other)
    assert a == b


def test_demand_within_reach_comes_before_the_preference(monkeypatch) -> None:
    """With a short reach, a move that would lose demand within reach is not made, even
    to a preferred site: two plans may then end apart (the final order is
    swap-stable, not the best plan under it)."""
    model, _, _ = saturated(0)
    first = unpolished(model, monkeypatch)
    other_model, _, _ = saturated(0, closed=np.array([int(first.selected[-1])]))
    other = unpolished(other_model, monkeypatch)
    a, b = ends_of(model, first, other)
    assert a != b


def test_a_site_that_is_the_only_option_ranks_first() -> None:
    """Two sites share one busy point; a third alone reaches a quieter one."""
    nb = sp.csr_array(np.array([[1, 1, 0], [0, 0, 1]], dtype=bool))
    demand = np.array([[4.0, 3.0]])
    model = CapacitatedCoverage.from_designs(
        nb, demand, [Design("d", 1.0, (1.0,))], 1, classes=("all",), class_neighbours=[nb]
    )
    np.testing.assert_allclose(_polish.preference(model), [2.0, 2.0, 3.0])


def test_the_final_order_stands_aside_for_district_equity() -> None:
    model, _, _ = saturated(0, groups=np.arange(60) % 2, equity_share=0.1)
    assert _polish.applies(model) == "district equity rows"
    res = model.solve("highs", gap=0.0)
    assert res.extra["final_order"] == {"applied": False, "why": "district equity rows"}


def test_a_pair_stored_as_false_is_no_pair() -> None:
    """A reach matrix with an entry stored as False: the model and the final order
    both read it as no pair, so demand within reach does not fall and the final
    order ends (it moved a station back and forth before)."""
    nb = sp.csr_array(
        (np.array([False, True, True, True]), np.array([0, 0, 1, 1]), np.array([0, 1, 3, 4])),
        shape=(3, 2),
    )
    model = CapacitatedCoverage.from_designs(
        nb, np.array([[10.0, 1.0, 1.0]]), [Design("d", 1.0, (1.0,))], 1, classes=("all",),
        secondary=True,
    )  # fmt: skip
    assert model.neighbours.nnz == 3
    res = model.solve("highs", gap=0.0)
    order = res.extra["final_order"]
    assert order["covered_after"] >= order["covered_before"] - 1e-9


def test_an_existing_site_with_no_design_is_refused() -> None:
    nb = sp.csr_array(np.ones((3, 3), dtype=bool))
    design = Design("d", 1.0, (1.0,), sites=frozenset({1, 2}))
    with pytest.raises(InputError, match="fixed: existing site 0 may take no design"):
        CapacitatedCoverage.from_designs(nb, np.ones((1, 3)), [design], 2, fixed=[0])


def test_a_plan_solved_without_it_is_put_in_the_final_order(monkeypatch) -> None:
    """A frontier point kept as the plan (its solve again cut short) goes through the
    same final order."""
    model, _, _ = saturated(3, reach=6.0, class_equity=1.0)
    point = unpolished(model, monkeypatch)
    assert point.extra["final_order"] is None
    plan = model.in_final_order(point)
    assert plan.extra["final_order"]["applied"]
    assert plan.objective == pytest.approx(point.objective, rel=1e-9)
    assert len(plan.selected) == len(point.selected)
    np.testing.assert_allclose(
        plan.extra["served_by_class"].sum(axis=1), point.extra["served_by_class"].sum(axis=1)
    )
    assert plan.selected.tolist() == model.solve("highs", gap=0.0).selected.tolist()


def test_an_exchange_moves_a_station_whose_mix_of_classes_does_not_fit(monkeypatch) -> None:
    """On a line: J (x=0) serves residents at a (x=1), the forced station O (x=2)
    taxis at b (x=2). K (x=5) alone reaches the taxis at c (x=5.5), but no resident:
    J cannot move there with its load. Trading, K takes c's taxis and O a's
    residents: the same sessions of each class, each station its use, two more
    sessions within reach."""
    x_sites, x_points = np.array([0.0, 2.0, 5.0]), np.array([1.0, 2.0, 5.5])
    dist = np.abs(x_points[:, None] - x_sites[None])
    class_nb = [sp.csr_array(dist <= 1.0), sp.csr_array(dist <= 3.0)]  # residents, taxis
    demand = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 2.0]])
    model = CapacitatedCoverage.from_designs(
        class_nb[1], demand, [Design("d", 2.0, (1.0, 1.0))], 2, classes=("residents", "taxis"),
        class_neighbours=class_nb, forced=[1], secondary=True,
    )  # fmt: skip
    site_type = np.array(["d", "d", ""], dtype=object)
    shares = {(0, 0, 0): 1.0, (1, 1, 1): 1.0}
    done = _polish.polish(model, site_type, dict(shares))
    assert done.site_type.tolist() == ["", "d", "d"]
    assert (done.moved, done.exchanges) == (1, 1)
    assert (done.covered_before, done.covered_after) == pytest.approx((4.0, 6.0))
    served = np.zeros((2, 3))
    use = {1: 0.0, 2: 0.0}
    for (c, i, j), share in done.shares.items():
        assert class_nb[c][i, j]  # within the class's reach
        served[c, i] += share * demand[c, i]
        use[j] += share * demand[c, i]
    np.testing.assert_allclose(served.sum(axis=1), [2.0, 2.0])  # each class's total
    assert np.all(served <= demand + 1e-9)
    assert use == pytest.approx({1: 2.0, 2: 2.0})  # each station full, as before
    # without the exchange the plan stays: the move alone finds no resident at K
    monkeypatch.setattr(_polish, "_EXCHANGES_PER_SITE", 0.0)
    kept = _polish.polish(model, np.array(["d", "d", ""], dtype=object), dict(shares))
    assert kept.site_type.tolist() == ["d", "d", ""] and kept.moved == 0


def sparse_classes(seed: int):
    """Like :func:`saturated`, with each class present at half the points and taxis
    reaching three times as far: moves often need the classes traded."""
    rng = np.random.default_rng(seed)
    pts, sites = rng.random((60, 2)) * 10, rng.random((30, 2)) * 10
    dist = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    limits = [2.0, 2.0, 6.0]
    class_nb = [sp.csr_array(dist <= t) for t in limits]
    demand = rng.uniform(1.0, 4.0, size=(3, 60)) * (rng.random((3, 60)) < 0.5)
    design = Design("programme", 6.0, (1.0, 0.8, 1.2), cost=10.0, charger="DC")
    model = CapacitatedCoverage.from_designs(
        sp.csr_array(dist <= 6.0), demand, [design], 8, classes=("residents", "inbound", "taxis"),
        class_neighbours=class_nb, secondary=True,
    )  # fmt: skip
    return model, dist, limits


@pytest.mark.parametrize("seed", [9, 11, 16, 38])
def test_exchanges_keep_what_the_plan_serves(seed: int, monkeypatch) -> None:
    model, dist, limits = sparse_classes(seed)
    before = unpolished(model, monkeypatch)
    after = model.solve("highs", gap=0.0)
    order = after.extra["final_order"]
    assert order["exchanges"] >= 1
    assert order["exchange_lps"] <= _polish._EXCHANGES_PER_SITE * 30
    np.testing.assert_allclose(
        after.extra["served_by_class"].sum(axis=1),
        before.extra["served_by_class"].sum(axis=1),
        rtol=1e-7,
    )
    assert sorted(np.round(uses(model, after), 6)) == sorted(np.round(uses(model, before), 6))
    r, c, _v, cls = after.extra["assignment"]
    for i, k, kind in zip(r, c, cls, strict=True):
        assert dist[i, after.selected[k]] <= limits[kind] + 1e-12
    assert np.all(after.extra["served_by_class"] <= model.demand + 1e-7)
    assert order["covered_after"] > order["covered_before"]


def test_an_exchange_keeps_every_trading_station_at_its_least_use() -> None:
    """The line above, with the forced station O at a least use of 2 in class use
    (a resident's session counting 0.5, a taxi's 1): taking a's residents instead of
    b's taxis would leave O at 1, so no exchange is made (found in review)."""
    x_sites, x_points = np.array([0.0, 2.0, 5.0]), np.array([1.0, 2.0, 5.5])
    dist = np.abs(x_points[:, None] - x_sites[None])
    class_nb = [sp.csr_array(dist <= 1.0), sp.csr_array(dist <= 3.0)]
    demand = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 2.0]])
    model = CapacitatedCoverage.from_designs(
        class_nb[1], demand, [Design("d", 2.0, (1.0, 1.0))], 2, classes=("residents", "taxis"),
        class_neighbours=class_nb, forced=[1], secondary=True, class_use=[0.5, 1.0],
        min_use={"d": np.array([0.0, 2.0, 0.0])},
    )  # fmt: skip
    done = _polish.polish(
        model, np.array(["d", "d", ""], dtype=object), {(0, 0, 0): 1.0, (1, 1, 1): 1.0}
    )
    assert done.site_type.tolist() == ["d", "d", ""] and done.exchanges == 0
    used = {1: 0.0}
    for (c, i, j), share in done.shares.items():
        used[j] = used.get(j, 0.0) + model.class_use[c] * share * demand[c, i]
    assert used[1] >= 2.0 - 1e-9
