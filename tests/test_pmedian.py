"""p-median model: exact against brute force and against OR-Library's proven optima."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.orlib import read_optima, read_pmed
from siting.errors import InfeasibleError
from siting.optimize import PMedian
from siting.optimize.pmedian._heuristics import pmedian_cost, pmedian_greedy, pmedian_swap

ORLIB = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "orlib-pmed"


def random_costs(seed: int, n: int = 25, m: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 10, (n, 2))
    s = rng.uniform(0, 10, (m, 2))
    cost = np.round(np.linalg.norm(d[:, None] - s[None], axis=2), 1)
    return cost, rng.integers(1, 10, n).astype(float)


def brute(
    cost: np.ndarray,
    w: np.ndarray,
    p: int,
    fixed: tuple[int, ...] = (),
    unserved: float | None = None,
) -> float:
    best = np.inf
    others = [j for j in range(cost.shape[1]) if j not in fixed]
    for combo in itertools.combinations(others, p - len(fixed)):
        sel = list(fixed) + list(combo)
        c = cost[:, sel].min(axis=1)
        if unserved is not None:
            c = np.minimum(c, unserved)
        best = min(best, float(w @ c))
    return best


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_pmedian_matches_brute_force(seed: int, solver: str) -> None:
    cost, w = random_costs(seed)
    for p in (1, 3, 5):
        res = PMedian(cost, w, p).solve(solver, gap=0.0)
        assert res.status == "optimal" and len(res.selected) == p
        assert res.objective == pytest.approx(brute(cost, w, p))
        assert res.extra["recomputed_objective"] == pytest.approx(res.objective)
        a = res.extra["assignment"]
        assert (a >= 0).all() and res.extra["load"].sum() == pytest.approx(w.sum())
        assert w @ cost[np.arange(len(w)), res.selected[a]] == pytest.approx(res.objective)


def test_fixed_sites_and_unserved_cost() -> None:
    cost, w = random_costs(9)
    res = PMedian(cost, w, 3, fixed=np.array([2])).solve(gap=0.0)
    assert 2 in res.selected
    assert res.objective == pytest.approx(brute(cost, w, 3, fixed=(2,)))
    # sparse: only pairs within 4 allowed, unserved demand costs 6 per unit
    sparse = sp.csr_array(np.where(cost <= 4.0, cost + 0.0, 0.0))
    sparse.eliminate_zeros()
    allowed = np.where(cost <= 4.0, cost, np.inf)
    res = PMedian(sparse, w, 3, unserved_cost=6.0).solve(gap=0.0)
    assert res.objective == pytest.approx(brute(allowed, w, 3, unserved=6.0))
    with pytest.raises(InfeasibleError, match="no allowed site"):
        far = sp.csr_array(np.where(cost <= 0.5, cost + 1, 0.0))
        PMedian(far, w, 3)


def test_swap_never_worsens_the_greedy_plan() -> None:
    cost, w = random_costs(4, n=120, m=40)
    g = pmedian_greedy(cost, w, 8, np.array([], dtype=np.int64))
    s = pmedian_swap(cost, w, g, np.array([], dtype=np.int64))
    assert len(s) == 8 and len(set(s.tolist())) == 8
    assert pmedian_cost(cost, w, s) <= pmedian_cost(cost, w, g)
    # and it reaches a swap-local optimum: no single swap improves it
    base = pmedian_cost(cost, w, s)
    for out in s:
        for inn in set(range(40)) - set(s.tolist()):
            trial = np.array(sorted((set(s.tolist()) - {out}) | {inn}))
            assert pmedian_cost(cost, w, trial) >= base - 1e-9


@pytest.mark.parametrize("k", range(1, 11))
def test_orlib_instances_reach_their_proven_optimum(k: int) -> None:
    inst = read_pmed(ORLIB / f"pmed{k}.txt")
    optimum = read_optima(ORLIB / "pmedopt.txt")[inst.name]
    res = PMedian(inst.costs, np.ones(inst.n), inst.p).solve(gap=0.0)
    assert res.proven_optimal
    assert res.objective == pytest.approx(optimum)


def test_orlib_last_duplicate_edge_cost_stands(tmp_path: Path) -> None:
    f = tmp_path / "tiny.txt"
    f.write_text("3 3 1\n1 2 5\n2 3 1\n1 2 2\n")
    inst = read_pmed(f)
    assert inst.costs[0, 1] == 2.0 and inst.costs[0, 2] == 3.0


def weighted_instance(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """40 points, 14 sites, fractional weights: the bounds cannot round up."""
    rng = np.random.default_rng(100 + seed)
    d = rng.uniform(0, 10, (40, 2))
    s = rng.uniform(0, 10, (14, 2))
    return np.linalg.norm(d[:, None] - s[None], axis=2), rng.uniform(0.5, 3.0, 40)


@pytest.mark.parametrize(
    ("path", "solver"), [("search", "highs"), ("mip", "highs"), ("mip", "cbc")]
)
@pytest.mark.parametrize("seed", range(3))
def test_each_exact_step_matches_brute_force(
    path: str, solver: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a weak root bound, so that the search or the reduced MIP has to finish the proof
    monkeypatch.setattr("siting.settings.PMEDIAN_ROOT_ITERATIONS", 3)
    if path == "mip":
        monkeypatch.setattr("siting.settings.PMEDIAN_SEARCH_MAX_SITES", 0)
        monkeypatch.setattr("siting.settings.PMEDIAN_SEARCH_SHARE", 0.0)
    else:
        monkeypatch.setattr("siting.settings.PMEDIAN_SEARCH_MAX_SITES", 100)
    cost, w = weighted_instance(seed)
    for p, fixed in ((2, ()), (4, (5,)), (6, (0, 13))):
        res = PMedian(cost, w, p, fixed=np.array(fixed, dtype=np.int64)).solve(solver, gap=0.0)
        assert res.status == "optimal"
        assert set(fixed) <= set(res.selected.tolist()) and len(res.selected) == p
        best = brute(cost, w, p, fixed=fixed)
        assert res.objective == pytest.approx(best, rel=1e-9)
        assert res.bound is not None and res.bound <= best + 1e-6
        assert res.solver == ("lagrangian" if path == "search" else solver)


def test_lagrangian_bound_and_unfinished_search_are_honest() -> None:
    from siting.optimize.pmedian import _lagrangian

    cost, w = weighted_instance(7)
    p = 5
    best = brute(cost, w, p)
    costs = _lagrangian.Costs(w[:, None] * cost)
    none = np.zeros(14, dtype=bool)
    root = _lagrangian.subgradient(
        costs,
        p,
        none,
        ~none,
        _lagrangian.start_multipliers(costs.WD),
        best,
        np.inf,
        max_iter=500,
    )
    assert root is not None and root.value <= best + 1e-9
    # a search stopped after two nodes is incomplete and its bound still below the optimum
    start = np.arange(p)
    pruning = _lagrangian.Pruning(integral=False, gap=0.0)
    cut = _lagrangian.branch_and_bound(
        cost,
        w,
        p,
        none,
        ~none,
        _lagrangian.start_multipliers(costs.WD),
        start,
        pmedian_cost(cost, w, start),
        pruning,
        max_nodes=2,
        root_iter=1,
        node_iter=1,
        deadline=np.inf,
    )
    assert not cut.complete and cut.bound <= best + 1e-9
    full = _lagrangian.branch_and_bound(
        cost,
        w,
        p,
        none,
        ~none,
        root.multipliers,
        start,
        pmedian_cost(cost, w, start),
        pruning,
        max_nodes=10**6,
        deadline=np.inf,
    )
    assert full.complete and full.cost == pytest.approx(best)
    # reduced-cost tests never close a site of an optimal plan
    opt = min(
        itertools.combinations(range(14), p),
        key=lambda s: pmedian_cost(cost, w, np.array(s)),
    )
    must, allowed = _lagrangian.fix_sites(
        costs, root.multipliers, p, none, ~none, pruning.threshold(best * (1 + 1e-9))
    )
    assert allowed[list(opt)].all()
    assert set(np.flatnonzero(must).tolist()) <= set(opt)


def test_time_limited_pmedian_is_not_called_optimal(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    inst = read_pmed(ORLIB / "pmed36.txt")
    t0 = time.perf_counter()
    assert PMedian(inst.costs, np.ones(inst.n), inst.p).solve(gap=0.0).status == "optimal"
    full = time.perf_counter() - t0
    # a quarter of the time the proof takes: stopped, and says so
    res = PMedian(inst.costs, np.ones(inst.n), inst.p).solve(time_limit=full / 4, gap=0.0)
    assert res.status == "feasible" and res.stopped_by
    assert res.bound is not None and res.bound < res.objective
    optimum = read_optima(ORLIB / "pmedopt.txt")["pmed36"]
    assert res.bound <= optimum <= res.objective


def test_every_step_stops_at_its_deadline() -> None:
    """A deadline already passed: one subgradient step (still a valid bound), no swap."""
    import time

    from siting.optimize.pmedian import _lagrangian

    cost, w = weighted_instance(7)
    p = 5
    best = brute(cost, w, p)
    costs = _lagrangian.Costs(w[:, None] * cost)
    none = np.zeros(14, dtype=bool)
    lam = _lagrangian.start_multipliers(costs.WD)
    kw = dict(max_iter=500, deadline=time.perf_counter())
    root = _lagrangian.subgradient(costs, p, none, ~none, lam, best, np.inf, **kw)  # type: ignore[arg-type]
    assert root is not None and root.iterations == 1 and root.value <= best + 1e-9
    start = np.array([0, 1, 2, 3, 4])
    fixed = np.array([], dtype=np.int64)
    assert pmedian_swap(cost, w, start, fixed, deadline=0.0).tolist() == start.tolist()
    assert pmedian_swap(cost, w, start, fixed).tolist() != start.tolist()  # it would move


def _plain_greedy(D: np.ndarray, w: np.ndarray, p: int, fixed: np.ndarray) -> np.ndarray:
    """The greedy without lazy gains: every gain computed at every step."""
    chosen = np.zeros(D.shape[1], dtype=bool)
    chosen[fixed] = True
    cur = D[:, fixed].min(axis=1) if len(fixed) else D.max(axis=1)
    for _ in range(p - len(fixed)):
        gain = w @ np.maximum(cur[:, None] - D, 0.0)
        gain[chosen] = -np.inf
        j = int(np.argmax(gain))
        chosen[j] = True
        cur = np.minimum(cur, D[:, j])
    return np.flatnonzero(chosen)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, 1_000_000))
def test_lazy_greedy_equals_the_plain_greedy(seed: int) -> None:
    # integer costs: many ties, which both must break towards the lowest index
    D, w, p, fixed = _tied_instance(seed, n=(3, 50), m=(2, 25), costs=12, w_min=1)
    assert np.array_equal(pmedian_greedy(D, w, p, fixed), _plain_greedy(D, w, p, fixed))


def _tied_instance(
    seed: int, *, n: tuple[int, int], m: tuple[int, int], costs: int, w_min: int
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Integer costs below ``costs`` and weights: many ties. (D, w, p, fixed sites)."""
    rng = np.random.default_rng(seed)
    n_d, n_s = int(rng.integers(*n)), int(rng.integers(*m))
    D = rng.integers(0, costs, (n_d, n_s)).astype(float)
    w = rng.integers(w_min, 4, n_d).astype(float)
    p = int(rng.integers(1, n_s + 1))
    fixed = np.sort(rng.choice(n_s, int(rng.integers(0, min(p, 3) + 1)), replace=False))
    return D, w, p, fixed


@pytest.mark.parametrize("seed", range(4))
def test_compiled_ascent_takes_the_steps_of_the_plain_subgradient(seed: int) -> None:
    """The compiled chunks (:func:`siting.optimize.pmedian._kernels.ascent`) against the
    textbook loop     (Beasley 1993) written in numpy: the same bound, step by step."""
    from siting.optimize.pmedian import _lagrangian

    cost, w = weighted_instance(seed)
    p, target = 4, brute(cost, w, 4)
    costs = _lagrangian.Costs(w[:, None] * cost)
    must = np.zeros(cost.shape[1], dtype=bool)
    must[3] = True
    allowed = ~np.isin(np.arange(cost.shape[1]), [5, 9])
    lam0 = _lagrangian.start_multipliers(costs.WD)
    for steps in (1, 7, 60):
        got = _lagrangian.subgradient(
            costs, p, must, allowed, lam0, target, np.inf, max_iter=steps, patience=5
        )
        # the plain loop
        lam, step, stall, best = lam0, 2.0, 0, -np.inf
        free = allowed & ~must
        for _ in range(steps):
            rho = np.minimum(costs.WD - lam[:, None], 0.0).sum(axis=0)
            chosen = np.flatnonzero(free)[np.argsort(rho[free], kind="stable")[: p - 1]]
            sel = np.concatenate([[3], chosen])
            value = lam.sum() + rho[sel].sum()
            if value > best + 1e-9:
                best, stall = value, 0
            else:
                stall += 1
                if stall >= 5:
                    step, stall = step / 2.0, 0
            g = 1.0 - (costs.WD[:, sel] < lam[:, None]).sum(axis=1)
            lam = np.maximum(lam + step * max(target - value, 1e-9 * target) / (g @ g) * g, 0.0)
        assert got is not None and got.value == pytest.approx(best, rel=1e-9)
        # a lower bound on the plans with site 3 and without sites 5 and 9
        plans = [c for c in itertools.combinations(range(cost.shape[1]), p) if 3 in c]
        least = min(pmedian_cost(cost, w, np.array(c)) for c in plans if not {5, 9} & set(c))
        assert got.value <= least + 1e-9
        assert 3 in got.selection and not np.isin([5, 9], got.selection).any()


def _plain_swap(D: np.ndarray, w: np.ndarray, sel: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Teitz and Bart's best-improvement interchange, every swap evaluated in full."""
    sel = sel.copy()
    while True:
        base = pmedian_cost(D, w, sel)
        best, best_k, best_j = np.inf, -1, -1
        for k in range(len(sel)):
            if sel[k] in fixed:
                continue
            for j in np.setdiff1d(np.arange(D.shape[1]), sel):
                trial = sel.copy()
                trial[k] = j
                change = pmedian_cost(D, w, trial) - base
                if change < best - 1e-9:
                    best, best_k, best_j = change, k, j
        if not best < -1e-9 * max(1.0, abs(base)):
            return np.sort(sel)
        sel[best_k] = best_j


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, 1_000_000))
def test_compiled_swap_equals_the_plain_interchange(seed: int) -> None:
    """Whitaker's decomposition on sorted rows (:func:`siting.optimize.pmedian._kernels.swap_pass`)
    makes the same swaps as evaluating every swap in full, ties included, and ends
    where no single swap helps."""
    # ties broken towards the first position, then the lowest site; zero weights too
    D, w, p, fixed = _tied_instance(seed, n=(2, 30), m=(2, 12), costs=9, w_min=0)
    rng = np.random.default_rng(seed + 1)
    rest = np.setdiff1d(np.arange(D.shape[1]), fixed)
    start = np.concatenate([fixed, rng.choice(rest, p - len(fixed), replace=False)])
    got = pmedian_swap(D, w, start, fixed)
    assert np.array_equal(got, _plain_swap(D, w, start, fixed))
