"""The maximal covering model by Benders decomposition (siting.optimize.covering._benders).

Against brute force on random instances (with and without existing sites, points
out of reach, zero weights), its cuts valid at every plan, a forced time limit
reporting a bound no lower than the optimum, and the model's own solve taking the
decomposition and giving the present path's optimum. Its reductions and search:
dominated sites never needed (brute force), the hashed grouping of identical rows
equal to the keyed loop (and safe from a collision), and the perturbation search
never losing cover and leaving a swap optimum that is not the best plan.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting import settings as siting_settings
from siting.optimize import MaximalCovering, _rows
from siting.optimize.covering import _benders as _benders_cover
from siting.optimize.covering import _clients as _cover_clients
from siting.optimize.covering import _heuristics as _cover
from siting.optimize.options import SolveOptions


def _instance(seed: int) -> tuple[sp.csr_array, sp.csr_array, np.ndarray, int, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 30)), int(rng.integers(2, 9))
    p = int(rng.integers(1, m + 1))
    reach = rng.random((n, m)) < rng.uniform(0.1, 0.6)
    times = np.where(reach, rng.integers(1, 300, size=(n, m)), 0).astype(float)
    w = rng.integers(0, 6, size=n).astype(float)
    fixed = np.sort(rng.choice(m, int(rng.integers(0, min(p, 2) + 1)), replace=False))
    return sp.csr_array(reach.astype(float)), sp.csr_array(times), w, p, fixed.astype(np.int64)


def _covered(nb: sp.csr_array, w: np.ndarray, plan: tuple[int, ...] | np.ndarray) -> float:
    hit = nb.toarray()[:, list(plan)].sum(axis=1) > 0
    return float(w[hit].sum())


def _brute(nb: sp.csr_array, w: np.ndarray, p: int, fixed: np.ndarray) -> float:
    plans = [c for c in itertools.combinations(range(nb.shape[1]), p) if set(fixed) <= set(c)]
    return max(_covered(nb, w, c) for c in plans)


@settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.integers(0, 100_000), st.booleans())
def test_benders_matches_brute_force(seed: int, by_time: bool) -> None:
    nb, times, w, p, fixed = _instance(seed)
    best = _brute(nb, w, p, fixed)
    clients = _benders_cover.Clients.from_neighbours(nb, w, fixed, costs=times if by_time else None)
    free = [j for j in range(nb.shape[1]) if j not in set(fixed.tolist())]
    start = np.concatenate([fixed, free[: p - len(fixed)]]).astype(np.int64)
    res = _benders_cover.solve(clients, p, fixed, start, SolveOptions(gap=0.0))
    assert res.status == "optimal"
    assert res.value == pytest.approx(best, abs=1e-9)
    assert res.bound >= best - 1e-9
    assert _covered(nb, w, res.selected) == pytest.approx(res.value, abs=1e-9)
    assert set(fixed.tolist()) <= set(res.selected.tolist()) and len(res.selected) == p


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, 100_000))
def test_dominated_sites_are_never_needed(seed: int) -> None:
    """The best plan among the sites left after dominance is the best plan, and
    replacing the dominated sites of any plan never lowers its cover."""
    nb, _, w, p, fixed = _instance(seed)
    clients = _benders_cover.Clients.from_neighbours(nb, w, fixed)
    dom, by = _cover_clients.dominated(clients, fixed, p)
    assert not dom[fixed].any()
    allowed = [j for j in range(nb.shape[1]) if not dom[j]]
    plans = [c for c in itertools.combinations(allowed, p) if set(fixed) <= set(c)]
    assert max(_covered(nb, w, c) for c in plans) == pytest.approx(_brute(nb, w, p, fixed))
    free = [j for j in range(nb.shape[1]) if j not in set(fixed.tolist())]
    for extra in itertools.combinations(free, p - len(fixed)):
        plan = np.array(sorted([*fixed.tolist(), *extra]), dtype=np.int64)
        better = _cover_clients.undominated(plan, dom, by, fixed)
        assert len(better) == p and set(fixed.tolist()) <= set(better.tolist())
        assert not dom[better].any()
        assert _covered(nb, w, better) >= _covered(nb, w, plan) - 1e-9


def test_dominance_on_a_small_case() -> None:
    """Site 1 reaches a subset of site 0's points, site 2 the same set as site 3
    (the higher index goes), site 4 nothing: 1, 3 and 4 are dominated."""
    nb = sp.csr_array(
        np.array([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0]], float)
    )
    none = np.zeros(0, dtype=np.int64)
    clients = _benders_cover.Clients.from_neighbours(nb, np.ones(4), none)
    dom, by = _cover_clients.dominated(clients, none, 2)
    assert dom.tolist() == [False, True, False, True, True]
    assert by.tolist() == [-1, 0, -1, 2, -1]
    # with p = 3, only two sites would be left: nothing is dominated
    assert not _cover_clients.dominated(clients, none, 3)[0].any()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 100_000))
def test_every_cut_holds_at_every_plan(seed: int) -> None:
    """The dual cut (at a fractional point) and both cuts at a plan never cut off
    a plan's true cover, group by group."""
    nb, _, w, _, _ = _instance(seed)
    clients = _benders_cover.Clients.from_neighbours(nb, w, np.zeros(0, dtype=np.int64))
    rng = np.random.default_rng(seed)
    n_s = nb.shape[1]
    points = [rng.random(n_s), (rng.random(n_s) < 0.5).astype(float)]
    every = np.arange(clients.n_groups)
    for y in points:
        s = clients.nb @ y
        groups, rhs, a = _benders_cover.cuts_at(clients, y, s, every)
        for plan in itertools.product([0.0, 1.0], repeat=n_s):
            x = np.array(plan)
            _, per = clients.cover(x)
            assert (per[groups] <= rhs + a @ x + 1e-9).all()
        # the dual cut is tight where it was made
        _, per = clients.cover(y)
        k = len(every)
        assert np.allclose(rhs[:k] + a[:k] @ y, per)


def test_a_time_limit_reports_feasible_with_a_bound_above_the_optimum() -> None:
    rng = np.random.default_rng(5)
    pts, sites = rng.uniform(0, 100, (600, 2)), rng.uniform(0, 100, (60, 2))
    d = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = rng.integers(1, 5, size=len(pts)).astype(float)
    none = np.zeros(0, dtype=np.int64)
    nb = sp.csr_array((d <= 12).astype(float))
    clients = _benders_cover.Clients.from_neighbours(nb, w, none)
    short = _benders_cover.solve(
        clients, 8, none, np.arange(8), SolveOptions(gap=0.0, time_limit=1e-3)
    )
    # the optimum by the present path (Lagrangian bound and integer program)
    full = MaximalCovering.from_cost_matrix(d, w, 8, threshold=12.0).solve(gap=0.0)
    assert full.status == "optimal"
    assert short.status == "feasible" and short.stopped_by is not None
    assert short.bound >= full.objective - 1e-6
    assert short.value <= full.objective + 1e-6


def test_the_model_takes_the_decomposition_and_finds_the_present_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(11)
    pts, sites = rng.uniform(0, 60, (800, 2)), rng.uniform(0, 60, (120, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = rng.integers(1, 4, size=len(pts)).astype(float)
    fixed = np.array([3, 40])
    present = MaximalCovering.from_cost_matrix(cost, w, 12, threshold=8.0, fixed=fixed).solve()
    monkeypatch.setattr(siting_settings, "COVER_BENDERS_MIN_PAIRS", 0)
    res = MaximalCovering.from_cost_matrix(cost, w, 12, threshold=8.0, fixed=fixed).solve()
    assert "benders" in res.extra and "lagrangian" not in res.extra
    assert present.status == res.status == "optimal"
    assert res.objective == pytest.approx(present.objective, rel=1e-4)
    assert set(fixed.tolist()) <= set(res.selected.tolist()) and len(res.selected) == 12
    # CBC, or a side constraint, keeps the present path
    cbc = MaximalCovering.from_cost_matrix(cost, w, 12, threshold=8.0, fixed=fixed).solve("cbc")
    assert "lagrangian" in cbc.extra


def test_side_constraints_fall_back_and_say_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(2)
    pts, sites = rng.uniform(0, 30, (200, 2)), rng.uniform(0, 30, (40, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = np.ones(len(pts))
    monkeypatch.setattr(siting_settings, "COVER_BENDERS_MIN_PAIRS", 0)
    model = MaximalCovering.from_cost_matrix(cost, w, 6, threshold=6.0)
    model.set_side_constraints(
        spacing_pairs=np.array([[0, 1]]),
        groups=None,
        equity_share=0.0,
        fixed=model.fixed,
        weights=w,
        reachable=np.diff(model.neighbours.indptr) > 0,
    )
    with caplog.at_level("INFO", logger="siting"):
        res = model.solve()
    assert "benders" not in res.extra
    assert "rule out the Benders decomposition" in caplog.text
    assert not {0, 1} <= set(res.selected.tolist())


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, 100_000), st.booleans())
def test_same_rows_matches_the_exact_loop(seed: int, labelled: bool) -> None:
    """The hashed grouping of identical rows equals the keyed loop, with and
    without group labels, on patterns with many repeated rows."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 60)), int(rng.integers(1, 8))
    pattern = rng.random((n, m)) < rng.random()
    nb = sp.csr_array(pattern * rng.uniform(1, 9, (n, m)))
    live = rng.random(n) < 0.8
    labels = rng.integers(0, 3, n) if labelled else None
    fast, exact = _rows.same_rows(nb, live, labels), _rows._same_rows_exact(nb, live, labels)
    assert np.array_equal(fast[0], exact[0]) and np.array_equal(fast[1], exact[1])


def test_same_rows_never_merges_different_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hash that merges everything is caught by the row-by-row check."""
    nb = sp.csr_array(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 0]], float))
    live = np.ones(4, dtype=bool)
    assert not _rows._rows_equal(nb, np.arange(4), np.zeros(4, dtype=np.int64))

    class _Flat:
        def random(self, size: int) -> np.ndarray:
            return np.ones(size)  # rows 2 and 3 get the same key as rows 0 and 1

    monkeypatch.setattr(_rows.np.random, "default_rng", lambda seed: _Flat())
    rows, rep_of = _rows.same_rows(nb, live, None)
    assert rows.tolist() == [0, 2, 3] and rep_of.tolist() == [0, 0, 2, 3]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 100_000))
def test_the_perturbed_search_never_loses_cover_and_repeats_itself(seed: int) -> None:
    """From a swap optimum the search keeps p sites and the fixed ones, covers at
    least as much, and gives the same plan for the same seed."""
    nb, _, w, p, fixed = _instance(seed)
    free = [j for j in range(nb.shape[1]) if j not in set(fixed.tolist())]
    start = np.sort(np.concatenate([fixed, free[: p - len(fixed)]]).astype(np.int64))
    local = _cover.swap(nb, w, start, fixed)
    prefer = np.random.default_rng(seed).random(nb.shape[1])
    runs = [
        _cover.perturbed_search(nb, w, local, fixed, prefer=prefer, rounds=15, size=2, seed=7)
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])
    plan = runs[0]
    assert len(plan) == p and set(fixed.tolist()) <= set(plan.tolist())
    assert _covered(nb, w, plan) >= _covered(nb, w, local) - 1e-9
    assert np.array_equal(
        _cover.perturbed_search(nb, w, local, fixed, prefer=prefer, rounds=0), np.sort(local)
    )


def test_the_perturbed_search_leaves_a_local_optimum() -> None:
    """On a case where the swap stops at {1, 3} (13) and the best plan is {0, 4}
    (18), the perturbation finds the best plan."""
    reach = [[0, 1, 0, 0, 1], [1, 1, 1, 1, 0], [0, 0, 0, 1, 1]]
    reach += [[1, 0, 1, 0, 0], [1, 1, 0, 0, 1], [1, 0, 0, 0, 0]]
    nb = sp.csr_array(np.array(reach, float))
    w = np.array([5.0, 1.0, 5.0, 2.0, 2.0, 3.0])
    none = np.zeros(0, dtype=np.int64)
    assert _brute(nb, w, 2, none) == 18
    local = _cover.swap(nb, w, np.array([1, 3]), none)
    assert local.tolist() == [1, 3] and _covered(nb, w, local) == 13
    plan = _cover.perturbed_search(nb, w, local, none, prefer=np.ones(5), rounds=10, size=2)
    assert plan.tolist() == [0, 4]
