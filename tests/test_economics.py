"""Station economics (siting.economics, ``[economics]``): the arithmetic by hand on a
small case, what each station serves of each group, bad input, and a whole run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from siting import settings
from siting.cli import main
from siting.economics import (
    annuity_factor,
    economics_lines,
    economics_totals,
    money,
    npv,
    payback_years,
    run_station_figures,
    segment_sessions,
    station_economics,
    station_flows,
)
from siting.errors import InputError, ScenarioError
from siting.scenario import Scenario, load_scenario
from siting.sections import EconomicsConfig
from siting.segments import Segment
from tests.conftest import small_scenario_text

#: [economics] of the hand case: the operator keeps 100 / 1.25 = 80 per kWh and pays
#: 30 / (1 - 0.25) = 40 per kWh sold: 40 a kWh, 14,600 a year per kWh a day.
TERMS = EconomicsConfig(
    currency="KZT",
    price=100.0,
    vat=0.25,
    electricity_cost=30.0,
    losses=0.25,
    opex_year=500_000.0,
    opex_capital_share=0.02,
    lease_years=4.0,
    discount_rate=0.06,
    source="test",
)

#: (1 - 1.06^-4) / 0.06, and the same as the sum of the four years' discount factors
ANNUITY_6_4 = 1 / 1.06 + 1 / 1.06**2 + 1 / 1.06**3 + 1 / 1.06**4


# ----------------------------------------------------------------- the arithmetic
def test_annuity_npv_and_payback_by_hand() -> None:
    assert round(ANNUITY_6_4, 7) == 3.4651056
    assert annuity_factor(0.06, 4) == pytest.approx(ANNUITY_6_4, rel=1e-12)
    assert annuity_factor(0.0, 4) == 4.0
    # a fraction of a year lies between the whole years' factors
    assert annuity_factor(0.06, 3) < annuity_factor(0.06, 3.5) < annuity_factor(0.06, 4)
    # 10 M now for 3 M a year over 4 years at 6 %: -10 M + 3 M x 3.4651056
    assert npv(10e6, 3e6, rate=0.06, years=4) == pytest.approx(395_316.84, abs=0.01)
    assert npv(10e6, 3e6, rate=0.0, years=4) == pytest.approx(2e6)
    # discounted payback: 3 M x a(6 %, t) = 10 M, t = -ln(1 - 0.06 x 10 / 3) / ln 1.06
    assert payback_years(10e6, 3e6, rate=0.06) == pytest.approx(
        math.log(1 / 0.8) / math.log(1.06), rel=1e-12
    )
    assert payback_years(10e6, 3e6, rate=0.06) == pytest.approx(3.8296, abs=1e-4)
    assert payback_years(10e6, 3e6, rate=0.0) == pytest.approx(10 / 3)
    # the margin at the payback year repays the capital exactly: NPV over it is 0
    t = payback_years(10e6, 3e6, rate=0.06)
    assert npv(10e6, 3e6, rate=0.06, years=t) == pytest.approx(0.0, abs=1e-6)
    # never: no margin, or the interest on the capital above the margin
    assert payback_years(10e6, 0.0, rate=0.06) == math.inf
    assert payback_years(10e6, 6e5, rate=0.06) == math.inf
    assert payback_years(0.0, 1.0, rate=0.06) == 0.0


def test_station_economics_by_hand() -> None:
    """Two new stations (200 and 300 kWh a day, 10 M each) and an existing one."""
    table = station_economics(
        np.array([200.0, 300.0, 50.0]),
        np.array([10e6, 10e6, 0.0]),
        np.array([False, False, True]),
        TERMS,
    )
    # revenue kWh x 365 x 80; electricity kWh x 365 x 40; opex 500,000 + 2 % of capital
    assert table["revenue_year"].tolist() == pytest.approx([5_840_000, 8_760_000, 1_460_000])
    assert table["electricity_cost_year"].tolist() == pytest.approx([2_920_000, 4_380_000, 730_000])
    assert table["opex_year"].tolist() == pytest.approx([700_000, 700_000, 500_000])
    assert table["margin_year"].tolist() == pytest.approx([2_220_000, 3_680_000, 230_000])
    npv_a = -10e6 + 2_220_000 * ANNUITY_6_4
    npv_b = -10e6 + 3_680_000 * ANNUITY_6_4
    assert npv_a == pytest.approx(-2_307_465.54, abs=0.01)
    assert npv_b == pytest.approx(2_751_588.65, abs=0.01)
    assert table["npv_lease"].iloc[:2].tolist() == pytest.approx([npv_a, npv_b])
    payback_a = math.log(1 / (1 - 0.06 * 10e6 / 2_220_000)) / math.log(1.06)
    assert payback_a == pytest.approx(5.4074, abs=1e-4)
    assert table["payback_years"].iloc[0] == pytest.approx(payback_a)
    assert table["pays_back"].iloc[:2].tolist() == [False, True]
    # an existing station: sunk capital, its margin only
    assert pd.isna(table["pays_back"].iloc[2])
    assert np.isnan(table[["payback_years", "npv_lease", "breakeven_kwh_day"]].iloc[2]).all()
    # break-even: kWh x 14,600 - 700,000 = 10 M / a(6 %, 4)
    breakeven = (10e6 / ANNUITY_6_4 + 700_000) / 14_600
    assert breakeven == pytest.approx(245.61, abs=0.01)
    assert table["breakeven_kwh_day"].iloc[0] == pytest.approx(breakeven)
    at = station_economics(np.array([breakeven]), np.array([10e6]), np.array([False]), TERMS)
    assert at["npv_lease"].iloc[0] == pytest.approx(0.0, abs=1e-4)
    assert at["payback_years"].iloc[0] == pytest.approx(4.0)


def test_totals_count_new_stations_and_capital_at_risk() -> None:
    flows = pd.DataFrame(
        {"taxis_sessions_day": [200 / 30, 10.0, 50 / 30], "taxis_kwh_day": [200.0, 300.0, 50.0]}
    ).assign(kwh_day=lambda f: f["taxis_kwh_day"])
    capital = np.array([10e6, 10e6, 0.0])
    existing = np.array([False, False, True])
    table = station_economics(flows["kwh_day"].to_numpy(), capital, existing, TERMS)
    block = economics_totals(flows, table, capital, existing, TERMS, currency="KZT")
    assert block["stations_new"] == 2
    assert block["stations_paying_back"] == 1
    assert block["capital_new"] == 20e6
    assert block["capital_at_risk"] == 10e6  # the 200 kWh/day station does not pay back
    assert block["revenue_year"] == pytest.approx(16_060_000)
    assert block["margin_year"] == pytest.approx(6_130_000)
    assert block["margin_year_existing"] == pytest.approx(230_000)
    assert block["energy_kwh_day"] == 550.0
    assert block["energy_kwh_day_new"] == 500.0
    assert block["energy_kwh_day_by_segment"] == {"taxis": 550.0}
    assert block["terms"]["annuity_factor"] == pytest.approx(ANNUITY_6_4, abs=1e-6)
    assert block["terms"]["net_price"] == 80.0
    lines = economics_lines(block)
    assert "1 of 2 new stations pay back within the lease" in lines[0]
    assert "capital at risk 10,000,000 KZT of 20,000,000 KZT" in lines[0]
    assert "revenue 16,060,000 KZT/yr" in lines[1]
    assert economics_lines({}) == []


def test_money_reads_with_separators_and_currency() -> None:
    assert money(1_234_567.4, "KZT") == "1,234,567 KZT"
    assert money(12.0) == "12"
    assert money(None, "KZT") == "—"
    assert money(float("nan"), "KZT") == "—"


# ---------------------------------------------------- what each station serves
def _segments() -> dict[str, Segment]:
    return {
        "residents": Segment("residents", 100.0, 0.1, 0.5, 0.3, 25.0, "AC"),
        "inbound": Segment("inbound", 100.0, 0.1, 0.5, 0.3, 20.0, "AC"),
        "taxis": Segment("taxis", 100.0, 0.1, 0.5, 0.3, 30.0, "DC"),
    }


def _points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "residents_sessions_day": [3.0, 1.0],
            "inbound_sessions_day": [1.0, 0.0],
            "taxis_sessions_day": [2.0, 4.0],
        }
    )


def test_sessions_by_group_with_each_group_a_class() -> None:
    # (point, station, sessions, class): classes are the groups themselves
    assignment = (
        np.array([0, 0, 1, 1]),
        np.array([0, 1, 1, 0]),
        np.array([2.0, 1.0, 4.0, 0.5]),
        np.array([0, 1, 2, 0]),
    )
    out = segment_sessions(
        _points(), _segments(), 2, assignment=assignment, classes=["residents", "inbound", "taxis"]
    )
    assert out.to_dict("list") == {
        "residents": [2.5, 0.0],
        "inbound": [0.0, 1.0],
        "taxis": [0.0, 4.0],
    }
    flows = station_flows(out, _segments())
    assert flows["residents_kwh_day"].tolist() == [62.5, 0.0]
    assert flows["kwh_day"].tolist() == [62.5, 20.0 + 120.0]


def test_sessions_by_group_in_the_ac_dc_form_are_shared_by_demand() -> None:
    """A point's AC sessions go to its AC groups in proportion to their demand there
    (3 residents, 1 inbound at point 0), its DC sessions to the DC group."""
    assignment = (np.array([0, 0]), np.array([0, 1]), np.array([2.0, 1.5]), np.array([0, 1]))
    out = segment_sessions(_points(), _segments(), 2, assignment=assignment, classes=["AC", "DC"])
    assert out["residents"].tolist() == [1.5, 0.0]
    assert out["inbound"].tolist() == [0.5, 0.0]
    assert out["taxis"].tolist() == [0.0, 1.5]
    assert out.to_numpy().sum() == pytest.approx(3.5)  # every session served is counted


def test_sessions_by_group_without_an_assignment() -> None:
    """Covering models: each point's served sessions at its station, shared among all
    its groups by their demand (point 1: 1 resident, 4 taxis)."""
    out = segment_sessions(
        _points(), _segments(), 2, station_of_point=np.array([-1, 1]), served=np.array([6.0, 5.0])
    )
    assert out["residents"].tolist() == [0.0, 1.0]
    assert out["taxis"].tolist() == [0.0, 4.0]
    with pytest.raises(InputError, match="station_of_point, served"):
        segment_sessions(
            _points(), _segments(), 2, station_of_point=np.array([0]), served=np.array([1.0])
        )
    with pytest.raises(InputError, match="classes"):
        assignment = (np.array([0]), np.array([0]), np.array([1.0]), np.array([0]))
        segment_sessions(_points(), _segments(), 1, assignment=assignment, classes=["bikes"])


def test_bad_station_figures_raise_input_error() -> None:
    with pytest.raises(InputError, match="kwh_day, capital, existing"):
        station_economics(np.array([1.0, 2.0]), np.array([1.0]), np.array([False]), TERMS)
    with pytest.raises(InputError, match="kwh_day"):
        station_economics(np.array([-1.0]), np.array([1.0]), np.array([False]), TERMS)
    with pytest.raises(InputError, match=r"economics\.discount_rate"):
        payback_years(1.0, 1.0, rate=1.5)


# ---------------------------------------------------------------- the scenario
@pytest.fixture(scope="module")
def almaty() -> Scenario:
    return load_scenario(settings.DEFAULT_SCENARIO)


def test_almaty_scenario_carries_the_programme_terms(almaty: Scenario) -> None:
    ec = almaty.economics
    assert ec is not None
    assert (ec.price, ec.lease_years, ec.electricity_cost) == (100.0, 4.0, 30.08)
    assert almaty.economics_currency() == "KZT"
    assert ec.fixed_opex_year == 600_000.0
    # the variants share it; a scenario may leave it out (no economics figures)
    mixed = load_scenario(settings.DEFAULT_SCENARIO.parent / "almaty-mixed.toml")
    assert mixed.economics == ec
    assert almaty.with_overrides({"economics": None}).economics is None


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("economics.price", -5, "economics.price"),
        ("economics.price", 0, "economics.price"),
        ("economics.electricity_cost", -1.0, "economics.electricity_cost"),
        ("economics.vat", 1.5, "economics.vat"),
        ("economics.losses", 1.0, "economics.losses"),
        ("economics.lease_years", 0, "economics.lease_years"),
        ("economics.discount_rate", 1.0, "economics.discount_rate"),
        ("economics.discount_rate", -0.01, "economics.discount_rate"),
        ("economics.opex_capital_share", 2.0, "economics.opex_capital_share"),
        ("economics.days_per_year", 400, "economics.days_per_year"),
        ("economics.price", "cheap", "economics.price"),
        ("economics.opex_year", 1000, "economics.opex_year, economics.opex_parts"),
        ("economics.currency", "USD", "economics.currency"),
        ("economics.rent", 5, "economics.rent"),
    ],
)
def test_bad_economics_raise_naming_the_field(
    almaty: Scenario, key: str, value: Any, field: str
) -> None:
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")) as err:
        almaty.with_overrides({key: value})
    assert isinstance(err.value, InputError)


def test_a_section_without_its_figures_is_refused(almaty: Scenario) -> None:
    with pytest.raises(ScenarioError, match=r"field 'economics\.price' is required"):
        almaty.with_overrides(
            {"economics": {"electricity_cost": 30.0, "lease_years": 4, "source": "s"}}
        )
    with pytest.raises(ScenarioError, match=r"economics\.opex_parts"):
        almaty.with_overrides({"economics.opex_parts": {}})
    with pytest.raises(ScenarioError, match=r"economics\.source"):
        almaty.with_overrides({"economics.source": " "})


def test_bad_price_on_the_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(settings.DEFAULT_SCENARIO), "--set", "economics.price=-100"])
    assert code == 2
    err = capsys.readouterr().err
    assert "economics.price" in err and len(err.strip().splitlines()) == 1


def test_no_section_no_economics(almaty: Scenario) -> None:
    """Without ``[economics]`` the stations still get their sessions and kWh per group,
    and no economics figure."""
    plain = almaty.with_overrides({"economics": None})
    sites = pd.DataFrame(
        {"site_id": ["A", "B"], "existing": [False, False], "capital_cost": [1.0, 1.0]}
    )
    per_demand = pd.DataFrame({"area_site": ["A", "B"], "served": [6.0, 5.0]})
    flows, block = run_station_figures(plain, _points(), _segments(), {}, sites, per_demand)
    assert block is None
    assert "revenue_year" not in flows
    assert flows["kwh_day"].sum() == pytest.approx(
        (3 * 25 + 1 * 20 + 2 * 30) + (1 * 25 + 4 * 30) * 5 / 5
    )


# ------------------------------------------------------------------ a whole run
ECONOMICS = """
[costs]
currency = "KZT"
port = { AC = 4000000, DC = 5000000 }

[benefits]
grid_kg_co2_per_kwh = 0.714
ev_kwh_per_km = 0.17
petrol_l_per_100km = 9.0
petrol_kg_co2_per_l = 2.27
pollutants_g_per_kg_fuel = { NOx = 8.73 }

[economics]
price = 100
vat = 0.16
electricity_cost = 30.08
losses = 0.05
opex_capital_share = 0.05
opex_parts = { platform = 600000 }
lease_years = 4
discount_rate = 0.06
source = "test"
"""


@pytest.fixture(scope="module")
def economics_run(
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The small scenario with every group its own class (segment equity), costs,
    benefits and economics, run to disk."""
    folder = tmp_path_factory.mktemp("economics")
    text = small_scenario_text(data_dir, small_area_file, extra="segment_equity = 1.0")
    path = folder / "economics.toml"
    path.write_text(text.replace('name = "small"', 'name = "small-economics"') + ECONOMICS)
    out = folder / "out"
    assert main(["run", str(path), "--out", str(out), "-q"]) == 0
    return out


def test_run_writes_economics_per_station_and_in_total(economics_run: Path) -> None:
    sites = pd.read_csv(economics_run / "sites.csv", dtype={"site_id": str})
    kpis = json.loads((economics_run / "kpis.json").read_text())
    eco = kpis["economics"]
    groups = list(kpis["segments"]["by_segment"])
    for g in groups:
        assert {f"{g}_sessions_day", f"{g}_kwh_day"} <= set(sites.columns)
    # a station's sessions by group add up to its load; its kWh to the groups' kWh
    by_group = sites[[f"{g}_sessions_day" for g in groups]].sum(axis=1)
    assert np.allclose(by_group, sites["sessions_served"], atol=1e-3)
    for g in groups:
        assert sites[f"{g}_sessions_day"].sum() == pytest.approx(
            kpis["segments"]["by_segment"][g]["served_sessions_day"], abs=0.01
        )
    assert eco["energy_kwh_day"] == pytest.approx(sites["kwh_day"].sum(), abs=0.1)
    # the benefits count the energy served (not the energy within reach)
    assert kpis["benefits"]["energy_kwh_day"] == pytest.approx(eco["energy_kwh_day"], abs=0.2)
    new = sites["status"] == "new"
    assert eco["stations_new"] == int(new.sum())
    paying = sites.loc[new, "pays_back"].astype(bool)
    assert eco["stations_paying_back"] == int(paying.sum())
    assert eco["capital_at_risk"] == pytest.approx(
        sites.loc[new, "capital_cost"][~paying.to_numpy()].sum()
    )
    assert eco["revenue_year"] == pytest.approx(sites["revenue_year"].sum(), rel=1e-6)
    # each new station by hand from its kWh (rounded in the file) and capital
    row = sites[new].iloc[0]
    revenue = row["kwh_day"] * 365 * 100 / 1.16
    margin = revenue - row["kwh_day"] * 365 * 30.08 / 0.95 - 600_000 - 0.05 * row["capital_cost"]
    assert row["revenue_year"] == pytest.approx(revenue, abs=5.0)
    assert row["margin_year"] == pytest.approx(margin, abs=5.0)
    assert row["npv_lease"] == pytest.approx(-row["capital_cost"] + margin * ANNUITY_6_4, abs=20.0)
    # existing stations: margin only
    old = sites[~new]
    assert old["pays_back"].isna().all() and old["npv_lease"].isna().all()
    assert old["margin_year"].notna().all()


def test_run_summary_and_map_show_the_economics(
    economics_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = (economics_run / "run.log").read_text()
    html = (economics_run / "map.html").read_text()
    assert "Pays back within the lease" in html
    assert "NPV over the lease" in html and "kWh a day" in html
    assert "Capital at risk" in html  # the key-figure panel
    from siting.summary import summary

    kpis = json.loads((economics_run / "kpis.json").read_text())
    text = summary(kpis)
    assert "new stations pay back within the lease" in text
    assert " KZT/yr" in text
    assert log  # the run logged


def test_a_run_without_the_section_has_no_economics(small_run: Any) -> None:
    result, out = small_run
    kpis = json.loads((out / "kpis.json").read_text())
    assert "economics" not in kpis
    sites = pd.read_csv(out / "sites.csv")
    assert "revenue_year" not in sites and "kwh_day" in sites
    assert "pay back" not in result.map.get_root().render()


def test_compare_shows_what_each_plan_costs_earns_and_avoids(
    economics_run: Path, small_run: Any, tmp_path: Path
) -> None:
    from siting.compare import compare_runs, load_run, write_comparison

    _, plain = small_run
    cmp = compare_runs([load_run(plain, name="plain"), load_run(economics_run, name="priced")])
    s = cmp.summary
    kpis = json.loads((economics_run / "kpis.json").read_text())
    eco, ben = kpis["economics"], kpis["benefits"]
    assert s.at["capital cost (KZT)", "priced"] == kpis["costs"]["plan_capital_cost"]
    assert s.at["new stations paying back", "priced"] == eco["stations_paying_back"]
    assert s.at["capital at risk (KZT)", "priced"] == eco["capital_at_risk"]
    assert s.at["revenue (KZT/yr)", "priced"] == eco["revenue_year"]
    assert s.at["energy sold (kWh/day)", "priced"] == eco["energy_kwh_day"]
    assert s.at["CO2 avoided (t/yr)", "priced"] == ben["co2_avoided_t_year"]
    assert s.at["local pollutants avoided (t/yr)", "priced"] == pytest.approx(
        ben["local_pollutants_total_t_year"]
    )
    # a run without [economics] has its energy from its segments, no economics figure
    plain_kpis = json.loads((plain / "kpis.json").read_text())
    served_kwh = sum(g["served_kwh_day"] for g in plain_kpis["segments"]["by_segment"].values())
    assert s.at["energy sold (kWh/day)", "plain"] == pytest.approx(served_kwh, abs=0.1)
    assert s.at["new stations paying back", "plain"] is None
    # the rows sit beside the served shares, and the written tables carry them
    rows = list(s.index)
    assert rows.index("share served (%)") < rows.index("new stations paying back")
    paths = write_comparison(cmp, tmp_path / "cmp")
    text = paths["markdown"].read_text()
    assert "| capital at risk (KZT) |" in text and "| new stations paying back |" in text
    assert f"{eco['capital_at_risk']:,.0f}" in text


# ------------------------------------------------------- futures: what moves viability
def test_futures_draw_a_name_range_from_its_two_ends(almaty: Scenario) -> None:
    from siting.futures.robust import future_list, moves_demand

    sc = almaty.with_overrides(
        {
            "futures": {
                "presets": ["today"],
                "draws": 6,
                "seed": 1,
                "ranges": {"demand.preset": ["today", "growth-2030"], "economics.price": [70, 100]},
            }
        }
    )
    futures = future_list(sc)
    draws = [ov for name, ov in futures if name.startswith("draw:")]
    assert {d["demand.preset"] for d in draws} <= {"today", "growth-2030"}
    assert len({d["demand.preset"] for d in draws}) == 2
    assert all(70 <= d["economics.price"] <= 100 for d in draws)
    # prices move no demand, nor does the scenario's own preset
    assert not moves_demand(sc, "economics.price", 70.0)
    assert not moves_demand(sc, "demand.preset", "today")
    assert moves_demand(sc, "demand.preset", "growth-2030")
    assert moves_demand(sc, "demand.residents.public_share", 0.3)


def test_a_robust_solve_without_a_plan_gives_way_to_the_best_own_plan() -> None:
    from siting.futures.robust import _best_own

    own = [(np.array([k]), np.array(["DC"]), "optimal", 0.0) for k in range(3)]
    matrix = np.array([[0.9, 0.1, 0.5], [0.4, 0.3, 0.4], [0.6, 0.2, 0.9]])
    names = ["a", "b", "c"]
    worst = _best_own(own, matrix, "worst", 0.0, names)
    assert worst.selected.tolist() == [1] and worst.objective == pytest.approx(0.3)
    assert worst.bound is None and "b's own plan stands in" in str(worst.stopped_by)
    assert _best_own(own, matrix, "mean", 0.0, names).selected.tolist() == [2]
    # met in all but a third of the futures: each row's second-smallest share
    third = _best_own(own, matrix, "quantile", 1 / 3, names)
    assert third.selected.tolist() == [2] and third.objective == pytest.approx(0.6)


FUTURES = """
[futures]
presets = ["today"]
criterion = "worst"
rationale = "test"
[futures.ranges]
"economics.price" = [30, 1000]
"economics.electricity_cost" = [0, 90]
"demand.preset" = ["today", "growth-2030"]
"""


def test_price_cost_and_adoption_move_the_viable_stations(
    tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path
) -> None:
    # every group its own class, held to equal shares in every future too
    extra = "curve = []\nsegment_equity = 1.0"
    text = small_scenario_text(data_dir, small_area_file, p=10, extra=extra)
    path = tmp_path / "futures.toml"
    path.write_text(text + ECONOMICS + FUTURES)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "-q", "--workers", "0"]) == 0
    kpis = json.loads((out / "kpis.json").read_text())
    v = kpis["futures"]["viability"]
    assert v["base_viable"] == kpis["economics"]["stations_paying_back"]
    assert v["stations_new"] == kpis["economics"]["stations_new"]
    sens = pd.read_csv(out / "sensitivity.csv").set_index(["assumption", "end"])
    viable = sens["plan_viable"]
    base = v["base_viable"]
    # a price below the electricity cost pays back nothing; a high one at least as much
    assert viable["economics.price", "low"] == 0
    assert viable["economics.price", "high"] >= base
    assert viable["economics.price", "high"] > viable["economics.price", "low"]
    assert viable["economics.electricity_cost", "low"] >= base
    assert viable["economics.electricity_cost", "high"] <= base
    # prices and the scenario's own preset move no demand: the run's plan, not solved again
    for key, end in [
        ("economics.price", "low"),
        ("economics.electricity_cost", "high"),
        ("demand.preset", "low"),
    ]:
        assert sens.loc[(key, end), "own_status"] == "the run's plan (same demand)"
        assert sens.loc[(key, end), "stations_kept"] == 1.0
    assert viable["demand.preset", "low"] == base
    assert (
        sens.loc[("demand.preset", "high"), "demand_sessions_day"]
        > sens.loc[("demand.preset", "low"), "demand_sessions_day"]
    )
    assert (sens["plan_capital_at_risk"] >= 0).all()
    assert (out / "tornado_viable.png").stat().st_size > 0
    futures = pd.read_csv(out / "futures.csv")
    assert futures["plan_viable"].tolist() == [base]  # preset:today is the run's own
    from siting.summary import summary

    text = summary(kpis)
    assert f"viability: {base} of {v['stations_new']} new stations pay back" in text
    assert "economics.price: low 30.0: 0" in text


def test_an_unknown_preset_in_a_range_is_named(almaty: Scenario) -> None:
    from siting.futures.robust import _check_presets

    sc = almaty.with_overrides(
        {"futures": {"presets": ["today"], "ranges": {"demand.preset": ["today", "2040"]}}}
    )
    with pytest.raises(ScenarioError, match=r"futures\.ranges\.demand\.preset: unknown preset"):
        _check_presets(sc)


def test_the_staged_scenario_ships_its_futures_over_price_cost_and_adoption() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO.parent / "almaty-staged.toml")
    assert sc.economics == load_scenario(settings.DEFAULT_SCENARIO).economics
    assert sc.optimize.staging is not None and len(sc.optimize.staging.stages) == 3
    assert sc.futures is not None
    assert set(sc.futures.ranges) == {
        "economics.price",
        "economics.electricity_cost",
        "demand.preset",
    }
    assert sc.futures.ranges["demand.preset"] == ["today", "growth-2030"]
    # capped so that a command-line run takes minutes on 2 cores
    assert sc.optimize.time_limit_s <= 60 and not sc.optimize.curve
    assert sc.optimize.minimum is None or not sc.optimize.minimum.targets
