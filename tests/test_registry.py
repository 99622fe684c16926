"""The model registry: ``optimize.model`` names a builder of the request builder
(:mod:`siting.request`), which turns a run into the model."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pytest

from siting.optimize import CapacitatedCoverage, MaximalCovering
from siting.request import BUILDERS, Request, builder
from siting.scenario import load_scenario
from siting.sections import OptimizeConfig


def test_every_scenario_model_has_a_class() -> None:
    choices = typing.get_args(OptimizeConfig.model_fields["model"].annotation)
    assert set(BUILDERS) == set(choices)
    with pytest.raises(ValueError, match=r"optimize\.model: expected one of"):
        builder("nope")


@pytest.mark.slow
def test_the_pipeline_builds_the_registered_class(
    small_scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model is found through the registry alone: swap the builder, the run uses it."""
    from siting.pipeline import plan

    built: list[int] = []
    original = BUILDERS["mclp"]

    def recording(request: Request, **kw: typing.Any) -> typing.Any:
        model = original(request, **kw)
        assert isinstance(model, MaximalCovering)
        built.append(model.p)
        return model

    monkeypatch.setitem(BUILDERS, "mclp", recording)
    sc = load_scenario(small_scenario).with_overrides(
        {"optimize.model": "mclp", "optimize.curve": [4]}
    )
    result = plan(sc)
    assert sorted(built) == [4, sc.optimize.p]
    assert result.result.model == "mclp" and len(result.result.selected) == sc.optimize.p


@pytest.mark.slow
def test_the_request_builds_the_model_built_by_hand(small_scenario: Path) -> None:
    """The request's capacitated model is the hand-made one: capacities, costs, existing sites."""
    from siting.costs import station_costs
    from siting.demand import charger_demand, demand_stage
    from siting.pipeline import prepare
    from siting.queueing import existing_capacity, station_capacity

    sc = load_scenario(small_scenario)
    inputs = prepare(sc)
    need = demand_stage(sc, inputs)
    oc = sc.optimize
    costs = station_costs(sc.costs, oc.capacity)
    auto = Request.from_run(inputs, need, oc, station_cost=costs).capacitated()
    ac, dc = charger_demand(need.points, need.segments)
    by_hand = CapacitatedCoverage.from_travel_times(
        need.travel,
        ac,
        dc,
        station_capacity(oc.capacity, need.segments, sc.demand.peak_hour_share),
        oc.p,
        threshold_s=oc.threshold_s,
        fixed=np.flatnonzero(inputs.candidates["existing"].to_numpy()),
        station_cost=costs,
        secondary=oc.secondary,
        site_capacity=existing_capacity(
            inputs.candidates, oc.capacity, need.segments, sc.demand.peak_hour_share
        ),
    )
    assert auto.capacity == by_hand.capacity and auto.p == by_hand.p
    assert auto.site_capacity == by_hand.site_capacity and len(auto.site_capacity) == 1
    assert np.array_equal(auto.fixed, by_hand.fixed)
    a = auto.solve(time_limit=60)
    b = by_hand.solve(time_limit=60)
    assert a.objective == pytest.approx(b.objective, rel=1e-6)


def test_one_type_models_refuse_bounds_on_dc_stations() -> None:
    """Only the capacitated model has station types: the others refuse max_dc."""
    from siting.errors import InputError

    oc = OptimizeConfig(model="mclp")
    request = Request.from_run(typing.cast(typing.Any, None), typing.cast(typing.Any, None), oc)
    with pytest.raises(InputError, match="max_dc and dc_exact need the capacitated model"):
        request.model(max_dc=1)
    assert request.threshold_s == oc.threshold_s == 60.0 * oc.threshold_min
