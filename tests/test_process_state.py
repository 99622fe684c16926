"""Solves that do not depend on what ran before in the process.

HiGHS keeps one task scheduler per calling thread, started by the first run with
that run's thread count; a later run asking for another count fails ("Not Set").
Any HiGHS user before siting in a notebook (PuLP's own ``HiGHS``, spopt) starts it.
Each model here is solved after such a run, in the same thread, and must give the
plan and status of a clean solve; a Benders master that fails is an error, never a
proof; and a PuLP solve after siting's still works.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import highspy
import numpy as np
import pulp
import pytest
import scipy.sparse as sp

from siting import settings as siting_settings
from siting.errors import SolverError
from siting.optimize import CapacitatedCoverage, MaximalCovering, MinimumPlan, PMedian, _solvers
from siting.optimize.options import SolveOptions
from siting.optimize.pmedian import _benders
from siting.optimize.result import SolveResult


def _pulp_highs(threads: int) -> None:
    """What a notebook did before: one HiGHS solve through PuLP with ``threads``."""
    prob = pulp.LpProblem("before", pulp.LpMaximize)
    x = pulp.LpVariable("x", 0, 3, cat="Integer")
    y = pulp.LpVariable("y", 0, 3, cat="Integer")
    prob += x + 2 * y
    prob += x + y <= 4
    prob.solve(pulp.HiGHS(msg=False, threads=threads))
    assert pulp.LpStatus[prob.status] == "Optimal"
    assert pulp.value(prob.objective) == pytest.approx(7.0)


@pytest.fixture()
def highs_used_before() -> Iterator[None]:
    """A HiGHS scheduler of 2 threads started in this thread, as PuLP or spopt leave it."""
    _pulp_highs(threads=2)
    yield
    highspy.Highs.resetGlobalScheduler(True)


def _points(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pts, sites = rng.uniform(0, 40, (n, 2)), rng.uniform(0, 40, (m, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    return cost, rng.integers(1, 5, size=n).astype(float)


def _covering_benders() -> SolveResult:
    cost, w = _points(3, 500, 60)
    return MaximalCovering.from_cost_matrix(cost, w, 8, threshold=6.0).solve(gap=0.0)


def _covering_integer() -> SolveResult:
    cost, w = _points(4, 120, 25)
    model = MaximalCovering.from_cost_matrix(cost, w, 5, threshold=6.0)
    model.set_side_constraints(
        spacing_pairs=np.array([[0, 1]]),
        groups=None,
        equity_share=0.0,
        fixed=model.fixed,
        weights=w,
        reachable=np.diff(model.neighbours.indptr) > 0,
    )
    return model.solve(gap=0.0)


def _pmedian() -> SolveResult:
    cost, w = _points(5, 200, 30)
    return PMedian.from_cost_matrix(cost, w, 6).solve(gap=0.0)


def _pmedian_benders() -> SolveResult:
    """The p-median's Benders engine itself (the model reaches it only on instances
    its Lagrangian steps do not close)."""
    cost, w = _points(5, 200, 30)
    m = sp.csr_array(np.where(cost <= 15.0, cost, 0.0))
    rows = _benders.Rows.from_csr(m.indptr, m.indices, m.data, w, m.shape[1], 20.0)
    none = np.zeros(0, dtype=np.int64)
    res = _benders.solve(rows, 6, none, np.arange(6), SolveOptions(gap=0.0))
    return SolveResult(
        model="pmedian",
        selected=res.selected,
        objective=res.cost,
        bound=res.bound,
        gap=0.0,
        status=res.status,
        solver="benders",
        solve_s=0.0,
        build_s=0.0,
        gap_tolerance=0.0,
    )


def _pmedian_budget() -> SolveResult:
    cost, w = _points(6, 80, 15)
    return PMedian.from_cost_matrix(cost, w, 4, budget=3.0, site_cost=np.ones(15)).solve(gap=0.0)


def _capacitated() -> SolveResult:
    cost, w = _points(7, 80, 12)
    return CapacitatedCoverage.from_cost_matrix(
        cost, w, w / 2, {"AC": 8.0, "DC": 20.0}, 4, threshold=8.0,
        station_cost={"AC": 1.0, "DC": 5.0},
    ).solve(gap=0.0)  # fmt: skip


def _minimum() -> SolveResult:
    cost, w = _points(8, 60, 15)
    cost = np.where(cost.min(axis=1, keepdims=True) <= 9.0, cost, 0.0)
    plan = MinimumPlan.from_cost_matrix(cost, w, w, 1.0, threshold=9.0, objective="stations")
    return plan.solve()


SOLVES: dict[str, Callable[[], SolveResult]] = {
    "covering (Benders)": _covering_benders,
    "covering (integer program)": _covering_integer,
    "p-median": _pmedian,
    "p-median (Benders engine)": _pmedian_benders,
    "p-median with a budget": _pmedian_budget,
    "capacitated": _capacitated,
    "minimum plan": _minimum,
}


@pytest.mark.parametrize("name", list(SOLVES))
def test_a_model_solves_the_same_after_another_highs_user(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(siting_settings, "COVER_BENDERS_MIN_PAIRS", 0)
    clean = SOLVES[name]()
    _pulp_highs(threads=2)
    after = SOLVES[name]()
    assert after.status == clean.status == "optimal"
    assert after.objective == pytest.approx(clean.objective, rel=1e-9)
    assert after.bound is not None and np.isfinite(after.bound)
    assert after.selected.tolist() == clean.selected.tolist()
    # and the caller's own HiGHS use goes on with its own thread count
    _pulp_highs(threads=2)


@pytest.fixture()
def no_scheduler_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    """siting's HiGHS runs without their scheduler reset, as before the fix."""
    monkeypatch.setattr(_solvers, "fresh_scheduler", contextlib.nullcontext)


def test_a_failed_master_is_an_error_never_a_proof(
    monkeypatch: pytest.MonkeyPatch, highs_used_before: None, no_scheduler_reset: None
) -> None:
    """Without the scheduler reset the master's first run fails: that must raise, not
    fall back to a plan reported optimal (as it did on a 14,000 x 150 instance)."""
    monkeypatch.setattr(siting_settings, "COVER_BENDERS_MIN_PAIRS", 0)
    cost, w = _points(3, 500, 60)
    with pytest.raises(SolverError, match=r"Benders master.*Not Set"):
        MaximalCovering.from_cost_matrix(cost, w, 8, threshold=6.0).solve(gap=0.0)


def test_a_pulp_solve_that_fails_says_what_happened(
    highs_used_before: None, no_scheduler_reset: None
) -> None:
    """The same failure through PuLP names HiGHS's status, not a time limit."""
    prob = pulp.LpProblem("p", pulp.LpMaximize)
    x = pulp.LpVariable("x", 0, 1, cat="Integer")
    prob += x
    with pytest.raises(SolverError, match=r"failed with no plan.*Not Set") as err:
        _solvers.run(prob, SolveOptions(threads=1))
    assert "time limit" not in str(err.value)


def test_threads_asked_for_are_the_threads_used(highs_used_before: None) -> None:
    """Another thread count later in the process is honoured, not refused."""
    for threads in (1, 2, 1):
        prob = pulp.LpProblem("t", pulp.LpMinimize)
        x = pulp.LpVariable("x", 0, 5, cat="Integer")
        prob += x
        prob += x >= 2
        info = _solvers.run(prob, SolveOptions(threads=threads))
        assert info.status == "optimal" and info.objective == pytest.approx(2.0)
        assert prob.solverModel.getOptionValue("threads")[1] == threads


def test_the_cli_runs_after_another_highs_user(
    small_scenario: Path, tmp_path: Path, highs_used_before: None
) -> None:
    from siting.cli import main

    out = tmp_path / "out"
    assert main(["run", str(small_scenario), "--out", str(out), "-q"]) == 0
    assert (out / "sites.csv").exists()
