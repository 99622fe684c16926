"""The cache of proven plans (siting._solve_cache)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from siting import _solve_cache
from siting.optimize import CapacitatedCoverage, SolveOptions
from siting.optimize.capacitated.design import Design

NAN = float("nan")


def small_model(extra_demand: float = 0.0) -> CapacitatedCoverage:
    rng = np.random.default_rng(4)
    cost = rng.uniform(0.0, 10.0, size=(9, 5))
    demand = rng.uniform(0.0, 4.0, size=(2, 9))
    demand[0, 0] += extra_demand
    designs = [
        Design("post", 6.0, (2.0, NAN), cost=2.0, charger="AC"),
        Design("hub", 12.0, (1.0, 0.5), cost=5.0, charger="DC"),
    ]
    return CapacitatedCoverage.from_designs(
        sp.csr_array(cost <= 6.0), demand, designs, 2, classes=("residents", "taxis")
    )


def test_a_proven_plan_is_read_back_not_solved_again(tmp_path: Path) -> None:
    options = SolveOptions("highs", gap=0.0)
    first = _solve_cache.solved(small_model(), options, cache_root=tmp_path)
    assert first.status == "optimal" and not first.extra.get("cached")
    calls: list[int] = []

    def solve_again() -> None:
        calls.append(1)
        raise AssertionError("solved again")

    again = _solve_cache.solved(
        small_model(),
        options,
        cache_root=tmp_path,
        solve=solve_again,  # type: ignore[arg-type]
    )
    assert calls == [] and again.extra["cached"] is True
    assert again.selected.tolist() == first.selected.tolist()
    assert again.objective == first.objective and again.status == "optimal"
    # another instance, another solver or gap: solved
    other = _solve_cache.solved(small_model(1.0), options, cache_root=tmp_path)
    assert not other.extra.get("cached")
    cbc = _solve_cache.solved(small_model(), options.but(solver="cbc"), cache_root=tmp_path)
    assert not cbc.extra.get("cached")
    # the time limit is not part of the key: a proven plan stands whatever the limit
    limited = _solve_cache.solved(small_model(), options.but(time_limit=30.0), cache_root=tmp_path)
    assert limited.extra["cached"] is True


def test_a_plan_stopped_by_its_limit_is_not_kept(tmp_path: Path) -> None:
    options = SolveOptions("highs", gap=0.0)
    model = small_model()
    proven = model.solve(options)
    stopped = dataclasses.replace(proven, status="feasible", stopped_by="time limit")
    _solve_cache.solved(model, options, cache_root=tmp_path, solve=lambda: stopped)
    again = _solve_cache.solved(small_model(), options, cache_root=tmp_path)
    assert not again.extra.get("cached")


def test_the_key_is_the_same_in_another_process_and_changes_with_the_model() -> None:
    """Sets and mappings of names are hashed sorted: another process (another string
    hash seed) computes the same key."""
    code = (
        "from tests.test_solve_cache import small_model;"
        "from siting import _solve_cache; from siting.optimize import SolveOptions;"
        "print(_solve_cache.model_key(small_model(), SolveOptions('highs')))"
    )
    root = Path(__file__).resolve().parents[1]
    keys = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env
        )
        assert out.returncode == 0, out.stderr
        keys.add(out.stdout.strip())
    assert keys == {_solve_cache.model_key(small_model(), SolveOptions("highs"))}
    assert _solve_cache.model_key(small_model(0.5), SolveOptions("highs")) not in keys
    p3 = small_model()
    p3.p = 3
    assert _solve_cache.model_key(p3, SolveOptions("highs")) not in keys


def test_a_model_without_a_stable_digest_is_solved_uncached(tmp_path: Path) -> None:
    model = small_model()
    model.side = lambda: None  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        _solve_cache.model_key(model, SolveOptions("highs"))
    res = _solve_cache.solved(model, SolveOptions("highs", gap=0.0), cache_root=tmp_path)
    assert res.status == "optimal"
    assert not list(tmp_path.rglob("*.pkl"))
