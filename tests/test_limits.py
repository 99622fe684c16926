"""optimize.time_limit_s bounds the whole optimise stage (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_time_limit_bounds_the_whole_optimise_stage(cache_dir: Path) -> None:
    """Almaty's plots with a choice of AC posts or DC stations, without taxis: each
    frontier point alone runs into minutes (many plans serve nearly the same), so nine
    solves and four minimum plans must share the limit."""
    from siting import settings
    from siting.pipeline import plan
    from siting.scenario import load_scenario

    limit = 8.0
    mixed = settings.DEFAULT_SCENARIO.parent / "almaty-mixed.toml"  # it has a cost frontier
    sc = load_scenario(mixed).with_overrides(
        {"demand.taxis.count": 0, "optimize.time_limit_s": limit}
    )
    run = plan(sc, cache_dir=cache_dir)
    assert run.timings["optimize"] <= limit * 1.1 + 5.0
    # the limit did bind: some solve stopped on it, and says so
    statuses = [pt["status"] for pt in run.kpis["frontier"]] + [run.kpis["solver"]["status"]]
    assert "feasible" in statuses
    assert all(s in ("optimal", "feasible") for s in statuses)
    # one meaning per figure: the chosen point's shares are the plan's
    point = run.kpis["frontier"][run.kpis["plan_choice"]["point"]]
    assert point["covered_share"] == pytest.approx(run.kpis["coverage_share"], abs=1e-6)
    # the curve says which frontier point the plan is
    note = run.curve.loc[run.curve["source"] == "plan", "note"].iloc[0]
    assert "cost frontier" in note and "optimize.choose.rule" in note


def test_stage_clock_shares_what_is_left_over_the_rounds_not_started() -> None:
    import time

    from siting import settings
    from siting._clock import StageClock

    clock = StageClock(time.perf_counter() + 8.0, 4, width=2)
    first = [clock.limit(), clock.limit()]  # round 1 of 4, side by side
    assert all(x == pytest.approx(2.0, abs=0.05) for x in first)
    # the stage ran late: round 2 finds 2 s left where 6 s were planned
    clock.end = time.perf_counter() + 2.0
    assert clock.limit() == pytest.approx(2.0 / 3, abs=0.05)
    assert clock.limit(cap=0.5) == pytest.approx(0.5)
    assert clock.limit(last=True) == pytest.approx(2.0, abs=0.05)
    clock.end = time.perf_counter() - 1.0  # past the deadline: the floor, no more
    assert clock.limit() == settings.MIN_SOLVE_S
    assert clock.left() is not None and clock.left() < 0  # type: ignore[operator]
    assert StageClock(None, 3).limit(cap=4.0) == 4.0


def test_cbc_preprocessing_stopped_by_the_limit_is_not_a_proof_of_infeasibility(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CBC 2.10 stopped by its limit in preprocessing reports "infeasible" (seen at
    0.1 s on Almaty with a feasible warm start): solved again without preprocessing,
    from the same warm start, the plan comes back."""
    import pulp

    from siting.optimize import SolveOptions, _cbc, _solvers

    prob = pulp.LpProblem("warm", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{i}", cat="Binary") for i in range(4)]
    prob += pulp.lpSum((i + 1) * v for i, v in enumerate(x))
    prob += pulp.lpSum(x) <= 2
    for v, value in zip(x, [1, 1, 0, 0], strict=True):
        v.setInitialValue(value)
    real = _cbc.cbc_solve
    calls: list[tuple[list[str] | None, list[float | None]]] = []

    def stopped_in_preprocessing(prob, options, *, flags=None):  # type: ignore[no-untyped-def]
        calls.append((flags, [v.varValue for v in prob.variables()]))
        if flags is None:  # what CBC does when its limit stops preprocessing
            for v in prob.variables():
                v.varValue = 0.0
            prob.status = pulp.LpStatusInfeasible
            return "Pre-processing says infeasible or unbounded\n(Wallclock seconds):       0.16\n"
        return real(prob, options, flags=flags)

    monkeypatch.setattr(_cbc, "cbc_solve", stopped_in_preprocessing)
    info = _solvers.run(prob, SolveOptions("cbc", time_limit=0.1))
    assert info.status in ("optimal", "feasible")
    assert info.objective == pytest.approx(7.0)
    assert calls[1][0] == ["preprocess off"]
    assert calls[1][1] == [1, 1, 0, 0]  # the warm start, back in place
    # with time to spare, CBC's preprocessing is believed
    calls.clear()
    assert _solvers.run(prob, SolveOptions("cbc", time_limit=60.0)).status == "infeasible"
    assert len(calls) == 1


def test_minimum_plan_says_nothing_of_reach_when_its_lp_is_cut_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The LP of the most any plan serves, stopped by its limit, proves nothing: no
    "out of reach" claim; the minimum plan is solved (or not) on its own."""
    from siting.optimize import MinimumPlan, _solvers
    from tests.test_capacitated import instance

    cost, ac, dc = instance(7, n=14, m=6)
    cap, price = {"AC": 2.0, "DC": 3.5}, {"AC": 1.0, "DC": 6.0}
    real = _solvers.run

    def lp_cut_short(prob, solver=None, **kw):  # type: ignore[no-untyped-def]
        info = real(prob, solver, **kw)
        if not prob.isMIP():
            return _solvers.SolveInfo("feasible", 0.0, None, None, "highs", 0.0, 1e-4, "time limit")
        return info

    monkeypatch.setattr(_solvers, "run", lp_cut_short)
    model = MinimumPlan.from_cost_matrix(
        cost, ac, dc, 0.5, threshold=3.5, capacity=cap, station_cost=price
    )
    res = model.solve(time_limit=30.0, gap=0.0)
    assert res.status == "optimal"
    assert res.extra["most_served"] is None
    assert res.extra["served"] >= 0.5 * model.reachable() - 1e-6
