"""Property-based tests (hypothesis): scenario parsing and optimizer invariants.

Scenario parsing: every override of a real field either validates or fails with
one ``ScenarioError`` line (never another exception); misspelt fields get a
suggestion; ``--set`` values round-trip.

Optimizers, on small random instances solved to proven optimality: exactly p
stations, existing (fixed) ones kept, covered demand never decreasing and
access cost never increasing as p grows, capacities never exceeded and DC
demand served only at DC stations.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from siting.errors import ScenarioError
from siting.optimize import CapacitatedCoverage, MaximalCovering, PMedian
from siting.scenario import Scenario, load_scenario, parse_overrides
from tests.conftest import ROOT

BASE = load_scenario(ROOT / "data" / "almaty.toml")
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=300, deadline=None)


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            if key.endswith("_kph"):  # a mapping of free keys, not a section
                out[path] = value
                continue
            out.update(_leaves(value, f"{path}."))
        elif key != "base_dir":
            out[path] = value
    return out


LEAVES = _leaves(BASE.model_dump(mode="json"))

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(-5, 500), max_size=4),
    st.dictionaries(st.text(min_size=1, max_size=6), st.integers(-5, 50), max_size=2),
)


# --------------------------------------------------------------------- scenarios
@MANY
@given(path=st.sampled_from(sorted(LEAVES)), value=values)
def test_any_override_validates_or_fails_in_one_line(path: str, value: object) -> None:
    try:
        sc = BASE.with_overrides({path: value})
    except ScenarioError as exc:
        msg = str(exc)
        assert len(msg.splitlines()) == 1
        # the message names the field, or the section whose cross-field rule failed
        section = path.split(".")[0]
        assert path in msg or f"'{section}" in msg or f"{section}." in msg, msg
    else:
        assert isinstance(sc, Scenario)
        got = _leaves(sc.model_dump(mode="json")).get(path, sc.model_dump(mode="json"))
        if isinstance(value, bool | int | float) and not isinstance(got, dict):
            if isinstance(value, float) and math.isnan(value):
                return
            assert got == pytest.approx(value) or got == value or got is None


#: Fields whose keys are the user's own (pollutant names, station types): any key is valid.
FREE_FORM_MAPPINGS = (
    "benefits.pollutants_g_per_kg_fuel.",
    "costs.port.",
    "economics.opex_parts.",
)


def _misspell(word: str, data: st.DataObject) -> str:
    i = data.draw(st.integers(0, len(word) - 1))
    how = data.draw(st.sampled_from(["drop", "swap", "double"]))
    if how == "drop":
        return word[:i] + word[i + 1 :]
    if how == "double":
        return word[:i] + word[i] + word[i:]
    j = min(i + 1, len(word) - 1)
    chars = list(word)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@MANY
@given(
    path=st.sampled_from(
        [
            p
            for p in sorted(LEAVES)
            if len(p.split(".")[-1]) >= 5 and not p.startswith(FREE_FORM_MAPPINGS)
        ]
    ),
    data=st.data(),
)
def test_misspelt_field_is_refused_with_a_suggestion(path: str, data: st.DataObject) -> None:
    *parents, leaf = path.split(".")
    wrong = _misspell(leaf, data)
    siblings = {p.split(".")[-1] for p in LEAVES if p.split(".")[:-1] == parents}
    assume(wrong not in siblings)
    with pytest.raises(ScenarioError) as info:
        BASE.with_overrides({".".join([*parents, wrong]): LEAVES[path]})
    msg = str(info.value)
    assert "unknown field" in msg and wrong in msg and len(msg.splitlines()) == 1
    assert "did you mean" in msg, msg
    suggested = msg.split("did you mean '")[1].split("'")[0]
    assert suggested in siblings


@MANY
@given(
    key=st.sampled_from(["optimize.p", "optimize.threshold_min", "demand.preset", "x.y_z"]),
    value=st.one_of(
        st.integers(-(10**9), 10**9),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.lists(st.integers(0, 999), max_size=5),
        st.from_regex(r"[a-z][a-z0-9]*(-[a-z0-9]+)+", fullmatch=True),
    ),
)
def test_set_values_round_trip(key: str, value: object) -> None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value  # unquoted, as typed on a command line
    else:
        text = repr(value).replace(" ", "")
    assert parse_overrides([f"{key}={text}"]) == {key: value}


@MANY
@given(item=st.text(max_size=20))
def test_set_never_crashes(item: str) -> None:
    try:
        out = parse_overrides([item])
    except ScenarioError as exc:
        assert len(str(exc).splitlines()) == 1 and "--set" in str(exc)
    else:
        (key,) = out
        assert all(part.isidentifier() for part in key.split("."))


# -------------------------------------------------------------------- optimizers
@st.composite
def instances(draw: st.DrawFn, *, capacitated: bool = False) -> dict[str, Any]:
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(4, 14))
    m = draw(st.integers(3, 7))
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 10, (n, 2))
    sites = rng.uniform(0, 10, (m, 2))
    cost = np.linalg.norm(demand[:, None] - sites[None], axis=2)
    n_fixed = draw(st.integers(0, min(2, m - 2)))
    return {
        "cost": cost,
        "weights": rng.integers(0, 50, n).astype(float),
        "dc": rng.integers(0, 20, n).astype(float) if capacitated else None,
        "fixed": np.sort(rng.choice(m, n_fixed, replace=False)),
        "threshold": draw(st.floats(1.0, 8.0)),
        "p_max": m,
    }


def _check_plan(res: Any, p: int, fixed: np.ndarray) -> None:
    assert res.status == "optimal"
    assert len(res.selected) == p == len(set(res.selected.tolist()))
    assert set(fixed.tolist()) <= set(res.selected.tolist())


@FEW
@given(inst=instances())
def test_covering_invariants(inst: dict[str, Any]) -> None:
    fixed = inst["fixed"]
    covered = []
    for p in range(max(1, len(fixed)), inst["p_max"] + 1):
        res = MaximalCovering.from_cost_matrix(
            inst["cost"], inst["weights"], p, threshold=inst["threshold"], fixed=fixed
        ).solve(gap=0.0)
        _check_plan(res, p, fixed)
        near = inst["cost"][:, res.selected] <= inst["threshold"]
        assert res.objective == pytest.approx(inst["weights"][near.any(axis=1)].sum(), abs=1e-6)
        covered.append(res.objective)
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(covered))


@FEW
@given(inst=instances())
def test_pmedian_invariants(inst: dict[str, Any]) -> None:
    fixed = inst["fixed"]
    totals = []
    for p in range(max(1, len(fixed)), inst["p_max"] + 1):
        res = PMedian.from_cost_matrix(inst["cost"], inst["weights"], p, fixed=fixed).solve(gap=0.0)
        _check_plan(res, p, fixed)
        best = inst["cost"][:, res.selected].min(axis=1)
        assert res.objective == pytest.approx(float(inst["weights"] @ best), rel=1e-6, abs=1e-6)
        totals.append(res.objective)
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(totals))


@FEW
@given(inst=instances(capacitated=True), ac_cap=st.floats(5, 80), dc_cap=st.floats(5, 80))
def test_capacitated_invariants(inst: dict[str, Any], ac_cap: float, dc_cap: float) -> None:
    fixed, ac, dc = inst["fixed"], inst["weights"], inst["dc"]
    cap = {"AC": ac_cap, "DC": dc_cap}
    served = []
    for p in range(max(1, len(fixed)), inst["p_max"] + 1):
        res = CapacitatedCoverage.from_cost_matrix(
            inst["cost"], ac, dc, cap, p, threshold=inst["threshold"], fixed=fixed
        ).solve(gap=0.0)
        _check_plan(res, p, fixed)
        x = res.extra
        assert np.all(x["load"] <= x["capacity"] * (1 + 1e-7) + 1e-7)
        # each point's share at most 1 within the solver's feasibility tolerance (1e-7)
        tol_ac, tol_dc = ac * 1e-7 + 1e-7, dc * 1e-7 + 1e-7
        assert np.all(x["served_ac"] <= ac + tol_ac) and np.all(x["served_dc"] <= dc + tol_dc)
        near = inst["cost"][:, res.selected] <= inst["threshold"]
        assert np.all(x["served_ac"][~near.any(axis=1)] <= 1e-9)
        dc_sites = near[:, x["types"] == "DC"].any(axis=1)
        assert np.all(x["served_dc"][~dc_sites] <= 1e-9)  # DC demand only at DC stations
        assert x["served_ac"].sum() + x["served_dc"].sum() == pytest.approx(
            res.objective, rel=1e-6, abs=1e-6
        )
        served.append(res.objective)
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(served))


def test_shipped_scenario_is_the_base() -> None:
    assert Path(BASE.base_dir) == ROOT / "data"
    assert "optimize.p" in LEAVES and LEAVES["optimize.p"] == 312


def _best_cover(cost: np.ndarray, w: np.ndarray, p: int, fixed: np.ndarray, r: float) -> float:
    m = cost.shape[1]
    near = cost <= r
    free = [j for j in range(m) if j not in set(fixed.tolist())]
    best = 0.0
    for extra in itertools.combinations(free, p - len(fixed)):
        sites = list(fixed.tolist()) + list(extra)
        best = max(best, float(w[near[:, sites].any(axis=1)].sum()))
    return best


@FEW
@given(inst=instances(), p_share=st.floats(0.0, 1.0))
def test_covering_is_exact_against_enumeration(inst: dict[str, Any], p_share: float) -> None:
    """The Lagrangian site fixing never removes the optimum (brute force over every plan)."""
    fixed = inst["fixed"]
    lo = max(1, len(fixed))
    p = lo + round(p_share * (inst["p_max"] - lo))
    res = MaximalCovering.from_cost_matrix(
        inst["cost"], inst["weights"], p, threshold=inst["threshold"], fixed=fixed
    ).solve(gap=0.0)
    best = _best_cover(inst["cost"], inst["weights"], p, fixed, inst["threshold"])
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best, abs=1e-6)
    assert res.bound is not None and res.bound >= best - 1e-6


@FEW
@given(inst=instances(capacitated=True), ac_cap=st.floats(5, 80), dc_cap=st.floats(5, 80))
def test_large_capacitated_path_bounds_are_valid(
    inst: dict[str, Any], ac_cap: float, dc_cap: float
) -> None:
    """The large-instance path (merged rows, bounds, reduced candidates) on small
    cases: a feasible plan, no better than the optimum, and a bound no lower."""
    from siting import settings as siting_settings

    fixed, ac, dc = inst["fixed"], inst["weights"], inst["dc"]
    cap = {"AC": ac_cap, "DC": dc_cap}
    p = max(1, len(fixed)) + (inst["p_max"] - max(1, len(fixed))) // 2
    args = (inst["cost"], ac, dc, cap, p)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(siting_settings, "CAPACITATED_DIRECT_PAIRS", -1)
        mp.setattr(siting_settings, "CANDIDATES_PER_STATION", 0)
        large = CapacitatedCoverage.from_cost_matrix(
            *args, threshold=inst["threshold"], fixed=fixed
        ).solve(gap=0.0)
    assert "scale" in large.extra
    exact = CapacitatedCoverage.from_cost_matrix(
        *args, threshold=inst["threshold"], fixed=fixed
    ).solve(gap=0.0)
    assert exact.status == "optimal"
    tol = 1e-6 * max(1.0, exact.objective)
    _check_plan_sites(large, p, fixed)
    assert large.objective <= exact.objective + tol
    assert large.bound is not None and large.bound >= exact.objective - tol
    x = large.extra
    assert np.all(x["load"] <= x["capacity"] * (1 + 1e-7) + 1e-7)
    assert np.all(x["served_ac"] <= ac + 1e-7) and np.all(x["served_dc"] <= dc + 1e-7)
    assert x["served_ac"].sum() + x["served_dc"].sum() == pytest.approx(
        large.objective, rel=1e-6, abs=1e-6
    )
    _, c, v, cls = x["assignment"]
    is_dc = cls == 1  # the legacy form's classes: 0 AC demand, 1 DC demand
    assert np.all(x["types"][c[is_dc & (v > 1e-9)]] == "DC")  # DC sessions at DC stations
    if large.status == "optimal":
        assert large.objective == pytest.approx(exact.objective, rel=1e-6, abs=1e-6)


def _check_plan_sites(res: Any, p: int, fixed: np.ndarray) -> None:
    assert len(res.selected) == p == len(set(res.selected.tolist()))
    assert set(fixed.tolist()) <= set(res.selected.tolist())
