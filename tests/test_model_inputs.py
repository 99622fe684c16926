"""Bad arguments to the models' constructors.

Each raises InputError with one line naming the argument, what it expects and what
arrived: never silently accepted, never a bare numpy or PuLP error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from siting.errors import InputError
from siting.optimize import (
    CapacitatedCoverage,
    MaximalCovering,
    MinimumPlan,
    PMedian,
    StagedPlan,
)
from siting.optimize.futures.robust import RobustPlan
from siting.travel import TravelTimes

COST = np.random.default_rng(0).uniform(0, 5, (6, 4))
NB = sp.csr_array(COST <= 3)
W = np.ones(6)
AC, DC = np.ones(6), np.full(6, 0.5)
CAP = {"AC": 2.0, "DC": 3.0}
PRICE = {"AC": 1.0, "DC": 2.0}
NAN = float("nan")


def _cc(**kw: Any) -> CapacitatedCoverage:
    return CapacitatedCoverage(NB, AC, DC, CAP, 2, **kw)


def _times() -> TravelTimes:
    """Drive times of the pairs within a 240 s cutoff (only what the models read)."""
    tt = object.__new__(TravelTimes)
    tt.matrix = sp.csr_array(np.where(COST <= 4, COST * 60, 0.0))
    tt.cutoff_s = 240.0
    return tt


# (id, constructor call, the argument its message names)
CASES: list[tuple[str, Callable[[], Any], str]] = [
    # MaximalCovering
    ("mclp-p-bool", lambda: MaximalCovering(NB, W, True), "p"),
    ("mclp-p-float", lambda: MaximalCovering(NB, W, 2.5), "p"),
    ("mclp-p-whole-float", lambda: MaximalCovering(NB, W, 2.0), "p"),
    ("mclp-p-text", lambda: MaximalCovering(NB, W, "2"), "p"),
    ("mclp-weights-text", lambda: MaximalCovering(NB, ["a"] * 6, 2), "weights"),
    ("mclp-neighbours-1d", lambda: MaximalCovering(np.ones(4), W, 2), "neighbours"),
    ("mclp-fixed-fraction", lambda: MaximalCovering(NB, W, 2, fixed=np.array([0.5])), "fixed"),
    (
        "mclp-fixed-mask",
        lambda: MaximalCovering(NB, W, 2, fixed=np.array([True, False, False, False])),
        "fixed",
    ),
    ("mclp-fixed-2d", lambda: MaximalCovering(NB, W, 2, fixed=np.array([[0]])), "fixed"),
    ("mclp-budget-nan", lambda: MaximalCovering(NB, W, 2, budget=NAN, site_cost=1.0), "budget"),
    ("mclp-budget-negative", lambda: MaximalCovering(NB, W, 2, budget=-1, site_cost=1), "budget"),
    (
        "mclp-site-cost-shape",
        lambda: MaximalCovering(NB, W, 2, budget=3.0, site_cost=np.ones(3)),
        "site_cost",
    ),
    (
        "mclp-site-cost-by-type",
        lambda: MaximalCovering(NB, W, 2, budget=3.0, site_cost={"AC": 1.0}),  # type: ignore[arg-type]
        "site_cost",
    ),
    (
        "mclp-spacing-out-of-range",
        lambda: MaximalCovering(NB, W, 2, spacing_pairs=np.array([[0, 9]])),
        "spacing_pairs",
    ),
    (
        "mclp-spacing-fraction",
        lambda: MaximalCovering(NB, W, 2, spacing_pairs=np.array([[0.5, 1]])),
        "spacing_pairs",
    ),
    (
        "mclp-equity-text",
        lambda: MaximalCovering(NB, W, 2, equity_share="0.2"),
        "optimize.equity_share",
    ),  # type: ignore[arg-type]
    (
        "mclp-costs-nan",
        lambda: MaximalCovering(NB, W, 2, costs=sp.csr_array(np.where(COST <= 3, NAN, 0))),
        "costs",
    ),
    (
        "mclp-threshold-nan",
        lambda: MaximalCovering.from_cost_matrix(COST, W, 2, threshold=NAN),
        "threshold",
    ),
    (
        "mclp-cost-matrix-nan",
        lambda: MaximalCovering.from_cost_matrix(np.where(COST < 1, NAN, COST), W, 2, threshold=3),
        "cost",
    ),
    (
        "mclp-threshold-s-nan",
        lambda: MaximalCovering.from_travel_times(_times(), W, 2, threshold_s=NAN),
        "threshold_s",
    ),
    # PMedian
    ("pmedian-p-bool", lambda: PMedian(COST, W, True), "p"),
    ("pmedian-p-float", lambda: PMedian(COST, W, 1.5), "p"),
    ("pmedian-unserved-nan", lambda: PMedian(COST, W, 2, unserved_cost=NAN), "unserved_cost"),
    ("pmedian-unserved-text", lambda: PMedian(COST, W, 2, unserved_cost="x"), "unserved_cost"),  # type: ignore[arg-type]
    ("pmedian-costs-text", lambda: PMedian([["a"] * 4] * 6, W, 2), "costs"),  # type: ignore[arg-type]
    # CapacitatedCoverage
    ("capacitated-p-bool", lambda: CapacitatedCoverage(NB, AC, DC, CAP, True), "p"),
    ("capacitated-p-float", lambda: CapacitatedCoverage(NB, AC, DC, CAP, 2.5), "p"),  # type: ignore[arg-type]
    (
        "capacitated-capacity-text",
        lambda: CapacitatedCoverage(NB, AC, DC, {"AC": "2"}, 2),
        "capacity",
    ),  # type: ignore[dict-item]
    (
        "capacitated-capacity-bool",
        lambda: CapacitatedCoverage(NB, AC, DC, {"AC": True}, 2),
        "capacity",
    ),
    ("capacitated-cost-array", lambda: _cc(station_cost=np.array([1.0, 2.0])), "station_cost"),
    ("capacitated-cost-extra-type", lambda: _cc(station_cost={**PRICE, "XX": 3.0}), "station_cost"),
    ("capacitated-cost-text", lambda: _cc(station_cost={"AC": "1", "DC": 2.0}), "station_cost"),
    ("capacitated-budget-nan", lambda: _cc(budget=NAN, station_cost=PRICE), "budget"),
    ("capacitated-budget-negative", lambda: _cc(budget=-5.0, station_cost=PRICE), "budget"),
    ("capacitated-max-dc-negative", lambda: _cc(max_dc=-1), "max_dc"),
    ("capacitated-max-dc-float", lambda: _cc(max_dc=1.5), "max_dc"),
    ("capacitated-max-dc-bool", lambda: _cc(max_dc=True), "max_dc"),
    ("capacitated-secondary-text", lambda: _cc(secondary="yes"), "secondary"),
    (
        "capacitated-site-capacity-text",
        lambda: _cc(fixed=[0], site_capacity={0: "AC"}),
        "site_capacity",
    ),
    (
        "capacitated-site-capacity-kind",
        lambda: _cc(fixed=[0], site_capacity={0: ("AC", "many")}),
        "site_capacity",
    ),
    (
        "capacitated-cost-matrix-nan",
        lambda: CapacitatedCoverage.from_cost_matrix(
            np.where(COST < 1, NAN, COST), AC, DC, CAP, 2, threshold=3.0
        ),
        "cost",
    ),
    (
        "capacitated-times-negative",
        lambda: _cc(times=sp.csr_array(np.where(COST <= 3, -COST, 0.0))),
        "times",
    ),
    # MinimumPlan
    ("minimum-target-bool", lambda: MinimumPlan(NB, AC, DC, True), "target"),
    ("minimum-target-text", lambda: MinimumPlan(NB, AC, DC, "0.5"), "target"),  # type: ignore[arg-type]
    ("minimum-ac-nan", lambda: MinimumPlan(NB, np.r_[NAN, AC[1:]], DC, 0.5), "ac_demand"),
    ("minimum-ac-short", lambda: MinimumPlan(NB, AC[:2], DC, 0.5), "ac_demand"),
    ("minimum-dc-negative", lambda: MinimumPlan(NB, AC, -DC, 0.5), "dc_demand"),
    (
        "minimum-capacity-by-site",
        lambda: MinimumPlan(NB, AC, DC, 0.5, capacity={0: 1.0}),
        "capacity",
    ),  # type: ignore[dict-item]
    ("minimum-capacity-list", lambda: MinimumPlan(NB, AC, DC, 0.5, capacity=[1.0]), "capacity"),  # type: ignore[arg-type]
    (
        "minimum-site-capacity-not-existing",
        lambda: MinimumPlan(NB, AC, DC, 0.5, capacity=CAP, site_capacity={0: ("AC", 1.0)}),
        "site_capacity",
    ),
    (
        "minimum-threshold-s-over-cutoff",
        lambda: MinimumPlan.from_travel_times(_times(), AC, DC, 0.5, threshold_s=600.0),
        "threshold_s",
    ),
    # StagedPlan, RobustPlan
    ("staged-weight-nan", lambda: StagedPlan([_cc()], [NAN], ["2030"]), "optimize.stages"),
    ("staged-weight-text", lambda: StagedPlan([_cc()], ["1"], ["2030"]), "optimize.stages"),  # type: ignore[list-item]
    ("staged-model-text", lambda: StagedPlan(["x"], [1.0], ["2030"]), "optimize.stages"),  # type: ignore[list-item]
    ("robust-model-text", lambda: RobustPlan(["x"]), "futures"),  # type: ignore[list-item]
    ("robust-quantile-text", lambda: RobustPlan([_cc()], quantile="0.1"), "futures.quantile"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("make", "name"), [pytest.param(f, n, id=i) for i, f, n in CASES])
def test_bad_model_argument_raises_one_line_input_error(make: Callable[[], Any], name: str) -> None:
    with pytest.raises(InputError) as info:
        make()
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(name), msg
    assert "expected" in msg and "got" in msg, msg


def test_valid_spellings_of_the_arguments_still_build_the_same_plan() -> None:
    base = MaximalCovering(NB, W, 2, fixed=np.array([1])).solve()
    numpy_p = MaximalCovering(NB, W, np.int64(2), fixed=[1.0]).solve()  # type: ignore[arg-type]
    assert numpy_p.objective == pytest.approx(base.objective)
    # inf in a dense cost matrix is out of reach, even under an infinite threshold
    far = np.where(COST <= 3, COST, np.inf)
    a = MaximalCovering.from_cost_matrix(far, W, 2, threshold=np.inf).solve()
    b = MaximalCovering.from_cost_matrix(COST, W, 2, threshold=3.0).solve()
    assert a.objective == pytest.approx(b.objective)
    staged = StagedPlan([_cc()], [1], ["2030"])  # an int weight is a number
    assert staged.weights == [1.0]
    assert _cc(max_dc=np.int64(1), secondary=np.bool_(True)).max_dc == 1
