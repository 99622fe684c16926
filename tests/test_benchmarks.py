"""Smoke runs of the benchmark suite at small sizes (not timed: speed is measured by
``python -m benchmarks.run``, whose figures go to benchmarks/report.md)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from benchmarks.bench_scale import solve_one
from benchmarks.run import markdown, run
from benchmarks.synthetic import make_instance


@pytest.mark.parametrize("model", ["mclp", "capacitated", "pmedian"])
def test_scale_benchmark_small(model: str) -> None:
    r = solve_one(model, 1_500, 250, p=30, existing=15, time_limit=15.0)
    assert r["selected"] == 30 and r["existing_kept"] and r["existing"] == 15
    assert r["status"] in ("optimal", "feasible")
    assert r["bound"] is not None and r["gap"] is not None
    if model == "pmedian":  # minimise: the bound is below
        assert r["bound"] <= r["objective"] * (1 + 1e-9)
    else:
        assert r["bound"] >= r["objective"] * (1 - 1e-9)
        assert 0 < r["objective"] <= r["demand_total"] + 1e-6
    if r["status"] == "optimal":
        assert r["gap"] <= 1e-4 + 1e-9
    else:
        assert r["stopped_by"]
    assert r["peak_rss_mb"] > 0 and r["dense_matrix_mb"] == pytest.approx(
        1_500 * 250 * 8 / 2**20, abs=0.1
    )


def test_synthetic_instance_is_sparse_and_seeded() -> None:
    a, b = make_instance(3_000, 400, seed=3), make_instance(3_000, 400, seed=3)
    assert (a.seconds != b.seconds).nnz == 0 and (a.weights == b.weights).all()
    assert a.seconds.nnz < 0.5 * 3_000 * 400
    assert a.seconds.data.max() <= a.cutoff_s + 1e-9
    assert abs(a.weights.sum() - (a.ac + a.dc).sum()) < 1e-9


def test_covering_at_scale_never_builds_a_dense_matrix() -> None:
    """20,000 × 4,000: a dense float64 matrix would take 610 MB; the covering model's
    allocations stay far below it."""
    from siting.optimize import MaximalCovering

    inst = make_instance(20_000, 4_000, n_existing=100)
    tracemalloc.start()
    res = MaximalCovering.from_cost_matrix(
        inst.seconds, inst.weights, 200, threshold=300.0, fixed=inst.fixed
    ).solve(time_limit=20.0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(res.selected) == 200
    assert peak < 0.25 * 20_000 * 4_000 * 8, f"peak {peak / 2**20:.0f} MB"


def test_suite_report_quick(tmp_path: Path) -> None:
    report = run(["scale", "orlib"], quick=True)
    assert {r["model"] for r in report["scale"]} == {"mclp", "capacitated", "capacitated+secondary"}
    assert not [r for r in report["scale"] + report["curves"] if "error" in r]
    curves = {(r["curve"], r["model"]) for r in report["curves"]}
    assert curves == {(c, m) for c in ("demand", "candidates")
                      for m in ("mclp", "capacitated", "pmedian")}  # fmt: skip
    assert all(r["ok"] for r in report["orlib"]) and len(report["orlib"]) == 5
    text = markdown(report)
    assert "## Scale: synthetic agglomeration" in text and "### Scaling curves" in text
    assert "5 of 5 instances at their proven optimum" in text
    assert report["machine"]["cores"] and report["machine"]["versions"]["siting"]
