"""Multi-year staging (siting.optimize.futures.staged): against brute force, never removing
a station, regret never negative, and the Almaty-like scenario section."""

from __future__ import annotations

import itertools
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.cli import main
from siting.errors import InfeasibleError
from siting.optimize import CapacitatedCoverage
from siting.optimize.futures.staged import StagedPlan, stage_regret
from tests.conftest import _run_to_disk, small_scenario_text


def _stages(seed: int, types: tuple[str, ...] = ("AC",)) -> tuple[StagedPlan, dict]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(4, 10)), int(rng.integers(3, 6))
    nb = sp.csr_array((rng.random((n, m)) < 0.5).astype(float))
    ac = rng.integers(0, 4, size=n).astype(float)
    dc = rng.integers(0, 3, size=n).astype(float) if "DC" in types else np.zeros(n)
    capacity = {t: float(c) for t, c in zip(("AC", "DC"), (3.0, 4.0), strict=True) if t in types}
    fixed = np.array([0]) if rng.random() < 0.3 else np.zeros(0, dtype=np.int64)
    sizes, p = [], max(1, len(fixed))
    growth = [1.0]
    for _ in range(int(rng.integers(2, 4))):
        p = int(rng.integers(p, m + 1))
        sizes.append(p)
        growth.append(growth[-1] * float(rng.uniform(1.0, 2.5)))
    weights = [float(w) for w in rng.uniform(0.2, 1.0, len(sizes))]
    models = [
        CapacitatedCoverage(nb, ac * g, dc * g, capacity, p, fixed=fixed)
        for p, g in zip(sizes, growth, strict=False)
    ]
    plan = StagedPlan(models, weights, [str(2025 + 2 * k) for k in range(len(sizes))])
    return plan, {"nb": nb, "ac": ac, "growth": growth, "capacity": capacity, "fixed": fixed}


def _served(model: CapacitatedCoverage, sites: tuple[int, ...]) -> float:
    """Most a plan of single-type stations serves (the model with every site fixed)."""
    alone = CapacitatedCoverage(
        model.neighbours, model.ac, model.dc, model.capacity, len(sites), fixed=np.array(sites)
    )
    return alone.solve(gap=0.0).objective


def _brute(plan: StagedPlan) -> float:
    m = plan.models[0].neighbours.shape[1]
    fixed = set(plan.models[0].fixed.tolist())

    @cache
    def served(k: int, sites: tuple[int, ...]) -> float:
        return _served(plan.models[k], sites)

    def best(k: int, before: frozenset[int]) -> float:
        if k == len(plan.models):
            return 0.0
        p = plan.models[k].p
        rest = [j for j in range(m) if j not in before]
        out = -np.inf
        for add in itertools.combinations(rest, p - len(before)):
            now = before | set(add)
            value = plan.weights[k] * served(k, tuple(sorted(now)))
            out = max(out, value + best(k + 1, frozenset(now)))
        return out

    return best(0, frozenset(fixed))


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.integers(0, 100_000))
def test_staged_plan_matches_brute_force(seed: int) -> None:
    plan, _ = _stages(seed)
    res = plan.solve(gap=0.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(_brute(plan), abs=1e-6)
    assert sum(s.weight * s.served for s in res.stages) == pytest.approx(res.objective, abs=1e-6)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 100_000), st.sampled_from(["highs", "cbc"]))
def test_stations_are_never_removed_nor_change_type(seed: int, solver: str) -> None:
    plan, ctx = _stages(seed, types=("AC", "DC"))
    res = plan.solve(solver, gap=0.0)
    for before, now in itertools.pairwise(res.stages):
        kept = dict(zip(now.selected.tolist(), now.types.tolist(), strict=True))
        for j, t in zip(before.selected.tolist(), before.types.tolist(), strict=True):
            assert kept.get(j) == t
    for k, stage in enumerate(res.stages):
        assert len(stage.selected) == plan.models[k].p
        assert set(ctx["fixed"].tolist()) <= set(stage.selected.tolist())
        assert all(res.built[j] <= k for j in stage.selected.tolist())
    assert sum(s.added for s in res.stages) == len(res.stages[-1].selected)
    for row in stage_regret(plan, res, solver=solver, gap=0.0):
        assert row["regret"] >= 0.0
        assert row["served_alone"] >= row["served_staged"] - 1e-6


def test_a_stage_with_fewer_stations_is_refused() -> None:
    nb = sp.csr_array(np.ones((3, 4)))
    w = np.ones(3)
    models = [CapacitatedCoverage(nb, w, 0 * w, {"AC": 2.0}, p) for p in (3, 2)]
    with pytest.raises(InfeasibleError, match=r"optimize\.stages\[1\]\.p: .* at least .* 3, got 2"):
        StagedPlan(models, [1.0, 1.0], ["2025", "2027"])


STAGES = """
[optimize.staging]
discount = 0.05
rationale = "test"
[[optimize.staging.stages]]
year = 2025
p = 8
[[optimize.staging.stages]]
year = 2027
p = 12
preset = "growth-2027"
[[optimize.staging.stages]]
year = 2030
p = 16
preset = "growth-2030"
"""


def test_a_run_reports_its_stages(
    tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path
) -> None:
    text = small_scenario_text(data_dir, small_area_file, extra=STAGES)
    run, out = _run_to_disk(tmp_path, "staged", text, cache_dir)
    stages = pd.read_csv(out / "stages.csv")
    sites = pd.read_csv(out / "staged_sites.csv", dtype={"site_id": str})
    assert stages["year"].tolist() == [2025, 2027, 2030]
    assert stages["p"].tolist() == [8, 12, 16]
    assert stages["weight"].tolist() == pytest.approx([1.0, 1.05**-2, 1.05**-5], rel=1e-5)
    # each stage's new stations are the sites built in its year
    built = sites["year_built"].value_counts().reindex(stages["year"], fill_value=0)
    assert built.tolist() == stages["stations_added"].tolist()
    assert len(sites) == 16 and sites["site_id"].is_unique
    assert (stages["regret"] >= 0).all() and (stages["served_share"] <= 1 + 1e-9).all()
    served = stages["served_sessions_day"] <= stages["served_alone_sessions_day"] + 1e-6
    assert served.all()
    # growing demand: the later presets have more of it
    assert stages["demand_sessions_day"].is_monotonic_increasing
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["staging"]["status"] in ("optimal", "feasible")
    assert kpis["staging"]["stages"][0]["year"] == 2025
    existing = set(run.candidates.loc[run.candidates["existing"], "site_id"].astype(str))
    assert existing <= set(sites.loc[sites["year_built"] == 2025, "site_id"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('model = "mclp"\n' + STAGES, r"optimize\.staging needs optimize\.model = 'capacitated'"),
        (
            STAGES.replace('"growth-2027"', '"growth-2O27"'),
            r"optimize\.staging\.stages\[1\]\.preset",
        ),
        (STAGES.replace("p = 12", "p = 6"), r"stations are never removed"),
        (STAGES.replace("year = 2027", "year = 2024"), r"expected increasing years"),
    ],
)
def test_bad_stages_are_one_line(
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: str,
    message: str,
) -> None:
    monkeypatch.setenv("SITING_CACHE_DIR", str(cache_dir))
    path = tmp_path / "bad.toml"
    path.write_text(small_scenario_text(data_dir, small_area_file, extra=extra))
    code = main(["run", str(path), "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()
