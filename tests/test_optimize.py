"""Maximal covering model: exact against brute force, constraints, honest status."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp

from siting.errors import InfeasibleError, InputError
from siting.optimize import MaximalCovering


def random_instance(seed: int, n_d: int = 30, n_s: int = 9):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 10, (n_d, 2))
    s = rng.uniform(0, 10, (n_s, 2))
    cost = np.linalg.norm(d[:, None, :] - s[None, :, :], axis=2)
    w = rng.integers(1, 20, n_d).astype(float)
    return cost, w


def brute_force(
    cost: np.ndarray, w: np.ndarray, p: int, threshold: float, fixed: tuple[int, ...] = ()
) -> float:
    best = -1.0
    others = [j for j in range(cost.shape[1]) if j not in fixed]
    for combo in itertools.combinations(others, p - len(fixed)):
        sel = list(fixed) + list(combo)
        best = max(best, float(w[(cost[:, sel] <= threshold).any(axis=1)].sum()))
    return best


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_mclp_matches_brute_force(seed: int, solver: str) -> None:
    cost, w = random_instance(seed)
    for p in (2, 4):
        model = MaximalCovering.from_cost_matrix(cost, w, p, threshold=2.5)
        res = model.solve(solver)
        assert res.status == "optimal"
        assert len(res.selected) == p
        assert res.objective == pytest.approx(brute_force(cost, w, p, 2.5))
        assert res.extra["covered_weight"] == pytest.approx(res.objective)
        a = res.extra["assignment"]
        assert res.extra["load"].sum() == pytest.approx(res.objective)
        assert (cost[np.flatnonzero(a >= 0), res.selected[a[a >= 0]]] <= 2.5).all()


def test_fixed_sites_are_kept_even_when_useless() -> None:
    cost, w = random_instance(11)
    cost[:, 0] = 99.0  # site 0 covers nothing
    res = MaximalCovering.from_cost_matrix(cost, w, 3, threshold=2.5, fixed=np.array([0])).solve()
    assert 0 in res.selected and len(res.selected) == 3
    assert res.objective == pytest.approx(brute_force(cost, w, 3, 2.5, fixed=(0,)))


def test_sparse_and_dense_costs_agree() -> None:
    cost, w = random_instance(5, n_d=60, n_s=15)
    sparse = sp.csr_array(np.where(cost <= 4.0, cost, 0.0))
    sparse.eliminate_zeros()
    a = MaximalCovering.from_cost_matrix(cost, w, 4, threshold=2.0).solve()
    b = MaximalCovering.from_cost_matrix(sparse, w, 4, threshold=2.0).solve()
    assert a.objective == pytest.approx(b.objective)


def test_tie_break_keeps_coverage_and_shortens_access() -> None:
    cost, w = random_instance(3, n_d=80, n_s=20)
    threshold = 4.0
    nb = sp.csr_array(cost <= threshold)
    costs = sp.csr_array(np.where(cost <= threshold, cost + 1e-9, 0.0))
    plain = MaximalCovering(nb, w, 10).solve()
    tied = MaximalCovering(nb, w, 10, costs=costs).solve()
    assert tied.objective == pytest.approx(plain.objective)
    assert tied.status == "optimal" and tied.extra["tie_break"]["status"] == "optimal"

    def access(sel: np.ndarray) -> float:
        c = np.where(cost[:, sel] <= threshold, cost[:, sel], np.inf).min(axis=1)
        ok = np.isfinite(c)
        return float((w[ok] * c[ok]).sum())

    assert access(tied.selected) <= access(plain.selected) + 1e-9
    assert tied.extra["tie_break"]["value"] == pytest.approx(access(tied.selected), rel=1e-6)


def test_infeasible_requests_are_explained() -> None:
    cost, w = random_instance(1)
    with pytest.raises(InfeasibleError, match="smaller than the 3 existing stations"):
        MaximalCovering.from_cost_matrix(cost, w, 2, threshold=1.0, fixed=np.array([0, 1, 2]))
    with pytest.raises(InfeasibleError, match="exceeds the 9 candidate sites"):
        MaximalCovering.from_cost_matrix(cost, w, 10, threshold=1.0)
    with pytest.raises(InputError, match="weights"):
        MaximalCovering.from_cost_matrix(cost, w[:-1], 2, threshold=1.0)
    with pytest.raises(InputError, match="solver"):
        MaximalCovering.from_cost_matrix(cost, w, 2, threshold=1.0).solve("gurobi")


def test_from_geodataframe_warns_on_geographic_crs() -> None:
    _, w = random_instance(2)
    rng = np.random.default_rng(2)
    dem = gpd.GeoDataFrame(
        {"w": w}, geometry=gpd.points_from_xy(*rng.uniform(0, 1000, (2, 30))), crs="EPSG:32643"
    )
    sites = gpd.GeoDataFrame(
        {"ex": [True] + [False] * 8},
        geometry=gpd.points_from_xy(*rng.uniform(0, 1000, (2, 9))),
        crs="EPSG:32643",
    )
    res = MaximalCovering.from_geodataframe(
        dem, sites, "w", 3, threshold=250.0, fixed_col="ex"
    ).solve()
    d = np.c_[dem.geometry.x, dem.geometry.y]
    s = np.c_[sites.geometry.x, sites.geometry.y]
    euclid = np.linalg.norm(d[:, None] - s[None], axis=2)
    assert res.objective == pytest.approx(brute_force(euclid, w, 3, 250.0, fixed=(0,)))
    with pytest.warns(UserWarning, match="geographic"):
        MaximalCovering.from_geodataframe(
            dem.to_crs(4326), sites.to_crs(4326), "w", 3, threshold=0.01
        )


def hard_instance() -> tuple[sp.csr_array, np.ndarray]:
    """Random MCLP that HiGHS cannot prove optimal in 30 s on the 2-core machine."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    d = rng.uniform(0, 100, (4000, 2))
    s = rng.uniform(0, 100, (800, 2))
    m = cKDTree(d).sparse_distance_matrix(cKDTree(s), 7.0, output_type="coo_matrix")
    nb = sp.csr_array((np.ones(m.nnz, dtype=bool), (m.row, m.col)), shape=(4000, 800))
    return nb, rng.integers(1, 100, 4000).astype(float)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_time_limit_is_reported_as_feasible_with_gap(solver: str) -> None:
    nb, w = hard_instance()
    model = MaximalCovering(nb, w, 50)
    greedy = model.greedy()
    greedy_cover = float(w[np.asarray(nb[:, greedy].sum(axis=1) > 0).ravel()].sum())
    res = model.solve(solver, time_limit=1.0, gap=0.0)
    assert res.status == "feasible"
    assert not res.proven_optimal
    assert res.stopped_by == "time limit"
    assert res.gap is not None and res.gap > 0
    assert res.bound is not None and res.bound > res.objective
    assert res.describe().startswith("feasible, gap ")
    assert len(res.selected) == 50
    # the warm start guarantees a plan at least as good as the greedy one
    assert res.objective >= greedy_cover - 1e-6


def test_greedy_is_deterministic_and_keeps_fixed_sites() -> None:
    nb, w = hard_instance()
    model = MaximalCovering(nb, w, 30, fixed=np.array([5, 6]))
    a, b = model.greedy(), model.greedy()
    assert np.array_equal(a, b) and len(a) == 30 and {5, 6} <= set(a.tolist())


def _brute_mclp_budget(
    cov: np.ndarray, w: np.ndarray, p: int, cost: np.ndarray, budget: float
) -> float:
    best = -1.0
    m = cov.shape[1]
    for k in range(p + 1):
        for combo in itertools.combinations(range(m), k):
            if cost[list(combo)].sum() <= budget + 1e-9:
                best = max(best, float(w @ (cov[:, list(combo)].sum(axis=1) > 0)))
    return best


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_mclp_budget_matches_brute_force(solver: str) -> None:
    rng = np.random.default_rng(5)
    cov = rng.random((30, 9)) < 0.25
    w = rng.integers(1, 10, 30).astype(float)
    cost = rng.integers(1, 5, 9).astype(float)
    model = MaximalCovering(sp.csr_array(cov), w, 4, budget=6.0, site_cost=cost)
    res = model.solve(solver, gap=0.0)
    assert res.status == "optimal" and len(res.selected) <= 4
    assert res.extra["cost"] <= 6.0
    assert res.objective == pytest.approx(_brute_mclp_budget(cov, w, 4, cost, 6.0))
    # existing stations are sunk: a budget of 1 still keeps them and adds none at 5
    kept = MaximalCovering(
        sp.csr_array(cov), w, 4, fixed=np.array([0, 1]), budget=1.0, site_cost=5.0
    ).solve(solver, gap=0.0)
    assert set(kept.selected.tolist()) == {0, 1} and kept.extra["cost"] == 0.0


def test_pmedian_side_constraints_match_brute_force() -> None:
    from siting.optimize import PMedian

    rng = np.random.default_rng(11)
    d = rng.uniform(0, 10, (30, 2))
    s = rng.uniform(0, 10, (10, 2))
    cost = np.linalg.norm(d[:, None] - s[None], axis=2)
    w = rng.integers(1, 5, 30).astype(float)
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    groups = np.where(d[:, 0] < 5, "west", "east")
    allowed = sp.csr_array(np.where(cost <= 4.0, cost + 1e-9, 0.0))
    U = 8.0
    model = PMedian(
        allowed, w, 3, unserved_cost=U, spacing_pairs=pairs, groups=groups, equity_share=0.6
    )
    res = model.solve(gap=0.0)
    dense = np.where(cost <= 4.0, cost + 1e-9, np.inf)
    best = np.inf
    for combo in itertools.combinations(range(10), 3):
        if any(a in combo and b in combo for a, b in pairs.tolist()):
            continue
        near = dense[:, list(combo)].min(axis=1)
        ok = all(
            w[(groups == g) & np.isfinite(near)].sum() >= 0.6 * w[groups == g].sum() - 1e-9
            for g in ("west", "east")
        )
        if ok:
            best = min(best, float(w @ np.minimum(near, U)))
    assert res.status == "optimal" and res.solver == "highs"
    assert res.objective == pytest.approx(best)
    for a, b in pairs.tolist():
        assert not (a in res.selected and b in res.selected)


def test_pmedian_and_capacitated_from_geodataframes_match_their_matrices() -> None:
    from siting.optimize import CapacitatedCoverage, PMedian

    rng = np.random.default_rng(4)
    dem = gpd.GeoDataFrame(
        {"w": rng.integers(1, 9, 25).astype(float), "ac": rng.uniform(0, 5, 25)},
        geometry=gpd.points_from_xy(*rng.uniform(0, 1000, (2, 25))),
        crs="EPSG:32643",
    )
    dem["dc"] = rng.uniform(0, 2, 25)
    sites = gpd.GeoDataFrame(
        {"ex": [True] + [False] * 7},
        geometry=gpd.points_from_xy(*rng.uniform(0, 1000, (2, 8))),
        crs="EPSG:32643",
    )
    d = np.c_[dem.geometry.x, dem.geometry.y]
    s = np.c_[sites.geometry.x, sites.geometry.y]
    euclid = np.linalg.norm(d[:, None] - s[None], axis=2)
    a = PMedian.from_geodataframe(dem, sites, "w", 3, fixed_col="ex").solve(gap=0.0)
    b = PMedian.from_cost_matrix(euclid, dem["w"].to_numpy(), 3, fixed=np.array([0])).solve(gap=0.0)
    assert 0 in a.selected and a.objective == pytest.approx(b.objective)
    cap = {"AC": 4.0, "DC": 6.0}
    c = CapacitatedCoverage.from_geodataframe(
        dem, sites, "ac", "dc", cap, 3, threshold=300.0, fixed_col="ex"
    ).solve(gap=0.0)
    e = CapacitatedCoverage.from_cost_matrix(
        euclid,
        dem["ac"].to_numpy(),
        dem["dc"].to_numpy(),
        cap,
        3,
        threshold=300.0,
        fixed=np.array([0]),
    ).solve(gap=0.0)
    assert 0 in c.selected and c.objective == pytest.approx(e.objective)
    with pytest.warns(UserWarning, match="geographic"):
        PMedian.from_geodataframe(dem.to_crs(4326), sites.to_crs(4326), "w", 3)
    with pytest.raises(InputError, match="no column 'nope'"):
        PMedian.from_geodataframe(dem, sites, "nope", 3)
