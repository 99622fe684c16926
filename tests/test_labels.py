"""One meaning per figure: a preset whose EV shares the scenario overrides is not
labelled with the preset's name alone (issue 31)."""

from __future__ import annotations

from siting import settings
from siting.scenario import load_scenario, preset_label


def test_an_overridden_share_is_named_beside_the_preset() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    assert preset_label(sc) == "today"
    assert preset_label(sc, "growth-2030") == "growth-2030"
    own = sc.with_overrides({"demand.residents.ev_share": 0.05, "demand.taxis.ev_share": 0.2})
    assert preset_label(own) == "today (residents.ev_share = 0.05, taxis.ev_share = 0.2 set)"
    # another preset keeps the shares the scenario sets: said so, not a copy of today
    assert preset_label(own, "growth-2030").startswith("growth-2030 (residents.ev_share")


def test_the_run_labels_its_demand_and_minimum_plans_so(small_run, cache_dir) -> None:  # type: ignore[no-untyped-def]
    from siting.pipeline import plan

    result, _ = small_run
    assert result.kpis["demand"]["preset"] == preset_label(result.scenario)
    own = result.scenario.with_overrides(
        {
            "demand.residents.ev_share": 0.05,
            "optimize.minimum": {"targets": [0.5], "presets": ["today", "growth-2030"]},
        }
    )
    run = plan(own, cache_dir=cache_dir)
    assert run.kpis["demand"]["preset"] == "today (residents.ev_share = 0.05 set)"
    labels = sorted({m["preset"] for m in run.kpis["minimum"]})
    assert labels == [
        "growth-2030 (residents.ev_share = 0.05 set)",
        "today (residents.ev_share = 0.05 set)",
    ]


def test_each_curve_row_says_what_it_is(small_run) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    result, out = small_run
    curve = pd.read_csv(out / "curve.csv")
    plan = curve[curve["source"] == "plan"]
    assert len(plan) == 1
    p = result.scenario.optimize.p
    assert plan["note"].iloc[0] == f"the plan: the best {p} stations (optimize.p)"
    assert curve["note"].notna().all()
