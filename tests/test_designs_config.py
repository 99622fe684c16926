"""Station designs and per-group standards in the scenario, with their queueing capacity.

Offline and small: scenarios are variants of the shipped Almaty default (``base``) that
are only loaded, never run; the queueing figures are checked against Erlang C worked
out by hand for two ports.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from siting import settings
from siting.costs import cost_breakdown, design_breakdown, station_costs
from siting.designs import (
    SITE_COST_COLUMNS,
    design_specs,
    existing_spec,
    load_site_costs,
    read_site_costs,
)
from siting.errors import DataFileError, InputError, MissingFileError, ScenarioError
from siting.queueing import (
    daily_capacity,
    existing_capacity,
    port_hours_capacity,
    station_capacity,
)
from siting.scenario import Scenario, load_scenario, resolve_segments
from siting.sections import candidate_kinds
from siting.segments import Segment

MIXED = settings.DEFAULT_SCENARIO.parent / "almaty-mixed.toml"

DC_FAST = """
[[optimize.designs]]
name = "DC fast"
charger = "DC"
ports = 2
kw_per_port = 60
cost_parts = { equipment = 7000000, works = 2000000, grid = 1500000 }
site_kinds = ["fuel", "mall", "transport_hub"]
source = "test figures"
"""

AC_POSTS = """
[[optimize.designs]]
name = "AC posts"
charger = "AC"
ports = 2
kw_per_port = 22
cost = 8000000
segments = ["residents"]
source = "test figures"
"""

STANDARDS = """
[demand.residents]
max_trip_min = 8
car_kw = { AC = 11 }
weight = 1.5

[demand.taxis]
max_trip_min = 4
designs = ["DC fast"]
min_served_share = 0.3
car_kw = { DC = 50 }
"""


def legacy(**more: object) -> Scenario:
    """The default as scenarios were before designs: the AC and DC types of
    ``optimize.capacity``, no group standards, no designs."""
    overrides: dict[str, object] = {
        "optimize.designs": [],
        "optimize.segment_equity": 0.0,
        "optimize.capacity.types": ["AC", "DC"],
        **{f"demand.{g}.max_trip_min": None for g in ("residents", "inbound", "taxis")},
        **{f"demand.{g}.car_kw": {} for g in ("residents", "inbound", "taxis")},
    }
    overrides.update(more)
    return load_scenario(settings.DEFAULT_SCENARIO).with_overrides(overrides)


def variant(tmp_path: Path, text: str, *, name: str = "v") -> Path:
    """A variant of the Almaty default (``base``, an absolute path) in ``tmp_path``."""
    path = tmp_path / f"{name}.toml"
    path.write_text(f'base = "{settings.DEFAULT_SCENARIO}"\nname = "{name}"\n{text}')
    return path


def load(tmp_path: Path, text: str) -> Scenario:
    return load_scenario(variant(tmp_path, text))


def erlang_c_2(a: float) -> float:
    """Probability of waiting with two ports: C(2, a) = a^2 / (2 + a)."""
    return a * a / (2.0 + a)


def load_for_wait_prob(p: float) -> float:
    """The load (Erlangs) at which two ports make a driver wait with probability p:
    the root of a^2 - p a - 2 p = 0."""
    return (p + math.sqrt(p * p + 8.0 * p)) / 2.0


def load_for_mean_wait(service_h: float, wait_h: float) -> float:
    """The load at which two ports hold the mean wait to wait_h: W = a^2 h / (4 - a^2)."""
    return 2.0 * math.sqrt(wait_h / (service_h + wait_h))


# --------------------------------------------------------------------------- parsing
def test_designs_and_standards_are_read(tmp_path: Path) -> None:
    sc = load(tmp_path, DC_FAST + AC_POSTS + STANDARDS)
    fast, posts = sc.optimize.designs
    assert (fast.name, fast.charger, fast.ports, fast.kw_per_port) == ("DC fast", "DC", 2, 60.0)
    assert fast.cost is None and fast.capital_cost == 10_500_000.0
    assert fast.site_kinds == ["fuel", "mall", "transport_hub"] and fast.segments is None
    assert (posts.cost, posts.capital_cost, posts.segments) == (8e6, 8e6, ["residents"])
    assert sc.design_names() == ["DC fast", "AC posts"]
    taxis = sc.demand.taxis
    assert taxis is not None and taxis.designs == ["DC fast"] and taxis.max_trip_min == 4.0
    # the base's own figures are kept under the standards (tables merged key by key)
    assert taxis.count == 80_000 and taxis.charger == "DC"

    segs = resolve_segments(sc)
    r, i, t = segs["residents"], segs["inbound"], segs["taxis"]
    assert (r.max_trip_min, r.designs, r.weight, dict(r.car_kw)) == (8.0, None, 1.5, {"AC": 11.0})
    assert (i.max_trip_min, i.designs, i.min_served_share, i.weight) == (5.0, None, 0.0, 1.0)
    assert (t.designs, t.min_served_share, dict(t.car_kw)) == (("DC fast",), 0.3, {"DC": 50.0})
    # frozen, hashable and picklable (Dask workers receive segments)
    assert pickle.loads(pickle.dumps(t)) == t and hash(pickle.loads(pickle.dumps(t))) == hash(t)
    with pytest.raises(TypeError):
        t.car_kw["DC"] = 1.0  # type: ignore[index]


def test_the_shipped_scenarios_carry_their_designs_and_standards() -> None:
    default, mixed = load_scenario(settings.DEFAULT_SCENARIO), load_scenario(MIXED)
    assert default.design_names() == ["programme"]
    (programme,) = default.optimize.designs
    assert (programme.charger, programme.ports, programme.kw_per_port) == ("DC", 2, 30.0)
    assert programme.capital_cost == 10_000_000.0 and "FACTS" in programme.source
    assert mixed.design_names() == ["ac-pair", "programme", "fast-hub"]
    for sc in (default, mixed):
        segs = resolve_segments(sc)
        assert [segs[g].max_trip_min for g in ("residents", "inbound", "taxis")] == [5, 5, 10]
        assert sc.optimize.segment_equity == 1.0


def test_scenarios_without_designs_are_unchanged() -> None:
    for sc in (legacy(), legacy(**{"optimize.capacity.types": ["DC"]})):
        assert sc.optimize.designs == [] and sc.candidates.site_costs is None
        assert sc.design_names() == sc.optimize.capacity.types
        for seg in resolve_segments(sc).values():
            assert (seg.max_trip_min, seg.designs, seg.min_served_share, seg.weight) == (
                None,
                None,
                0.0,
                1.0,
            )
            assert dict(seg.car_kw) == {}
    # positional construction of a segment, as before
    seg = Segment("taxis", 100, 0.5, 0.5, 1.0, 30.0, "DC")
    assert seg.designs is None and len(seg.car_kw) == 0 and hash(seg) == hash(seg)


def test_default_designs_may_leave_a_group_out_as_before(tmp_path: Path) -> None:
    """AC stations only, with taxis (DC): valid before designs, and still (their demand
    goes unserved); naming designs for the taxis makes it an error."""
    sc = legacy(**{"optimize.capacity.types": ["AC"]})
    (spec,) = design_specs(sc, resolve_segments(sc), 0.1)
    assert (spec.name, spec.segments) == ("AC", ("residents", "inbound"))
    with pytest.raises(ScenarioError, match=r"demand\.taxis\.designs: no station design serves"):
        legacy(**{"optimize.capacity.types": ["AC"], "demand.taxis.designs": ["AC"]})


def test_candidate_kinds_are_those_candidates_get() -> None:
    kinds = candidate_kinds()
    assert {"fuel", "mall", "transport_hub", "parking", "cafe"} <= set(kinds)
    assert settings.GRID_KIND in kinds and "existing_station" in kinds
    assert len(kinds) == len(set(kinds))


# ------------------------------------------------------------------------ bad inputs
BAD_DESIGNS = [
    (
        DC_FAST
        + DC_FAST.replace(
            "cost_parts = { equipment = 7000000, works = 2000000, grid = 1500000 }", "cost = 1"
        ),
        r"^optimize\.designs\[1\]\.name: .*got 'DC fast' \(also optimize\.designs\[0\]\.name\)",
    ),
    (
        DC_FAST + AC_POSTS.replace('segments = ["residents"]', 'segments = ["visitors"]'),
        r"^field 'optimize\.designs\[1\]\.segments\[0\]': .*'residents', 'inbound' or "
        r"'taxis', got 'visitors'",
    ),
    (
        DC_FAST.replace('"mall"', '"malls"'),
        r"^field 'optimize\.designs\[0\]\.site_kinds\[1\]': expected a candidate kind "
        r"\(did you mean 'mall'\?\).*got 'malls'",
    ),
    (
        DC_FAST + '[demand.taxis]\ndesigns = ["DC fats"]\n',
        r"^demand\.taxis\.designs\[0\]: unknown design 'DC fats' \(did you mean 'DC fast'\?\); "
        r"known: DC fast",
    ),
    (
        DC_FAST + "[demand.inbound]\nmax_trip_min = 45\n",
        r"^demand\.inbound\.max_trip_min \(45\.0\) must be at most travel\.cutoff_min \(30\.0\)",
    ),
    (
        DC_FAST.replace("cost_parts", "cost = 5\ncost_parts"),
        r"^optimize\.designs\[0\]: expected one of cost and cost_parts .*got both",
    ),
    (
        AC_POSTS.replace("cost = 8000000\n", "") + DC_FAST,
        r"^optimize\.designs\[0\]: expected one of cost and cost_parts .*got neither",
    ),
    (  # only an AC design: the taxis (DC) are left without one
        AC_POSTS.replace('segments = ["residents"]\n', ""),
        r"^demand\.taxis\.designs: no station design serves taxis \(it charges at DC; "
        r"the scenario's designs: 'AC posts' \(AC\)\)$",
    ),
    (  # a group that names no design at all
        DC_FAST + "[demand.inbound]\ndesigns = []\n",
        r"^demand\.inbound\.designs: no station design serves inbound",
    ),
    (  # the default's one design is the programme's
        '[demand.residents]\ndesigns = ["AC"]\n',
        r"^demand\.residents\.designs\[0\]: unknown design 'AC'.*known: programme",
    ),
    (
        DC_FAST + AC_POSTS.replace('["residents"]', '["residents", "taxis"]'),
        r"^optimize\.designs\[1\]\.segments: 'taxis' charges at DC \(demand\.taxis\.charger\)",
    ),
    (  # the AC posts serve residents only, who use only the DC design
        DC_FAST + AC_POSTS + '[demand.residents]\ndesigns = ["DC fast"]\n',
        r"^optimize\.designs\[1\]: no user group may use design 'AC posts'",
    ),
    (DC_FAST.replace('source = "test figures"', ""), r"field 'optimize\.designs\[0\]\.source'"),
    (DC_FAST.replace('source = "test figures"', 'source = " "'), r"'optimize\.designs\[0\]\.so"),
    (DC_FAST.replace('"DC fast"', '""'), r"^field 'optimize\.designs\[0\]\.name': .*non-empty"),
    (DC_FAST.replace("ports = 2", "ports = 0"), r"^field 'optimize\.designs\[0\]\.ports'"),
    (DC_FAST.replace("ports = 2", "ports = 2.0"), r"'optimize\.designs\[0\]\.ports'.*integer"),
    (DC_FAST.replace('"DC"', '"HPC"'), r"^field 'optimize\.designs\[0\]\.charger'"),
    (DC_FAST.replace("equipment = 7000000", "equipment = -1"), r"cost_parts\.equipment'"),
    (DC_FAST.replace("cost_parts", "colour = 1\ncost_parts"), r"unknown field 'optim.*colour'"),
    ("[demand.taxis]\nweight = -1\n", r"^field 'demand\.taxis\.weight': .*-1"),
    ("[demand.taxis]\nmin_served_share = 1.5\n", r"^field 'demand\.taxis\.min_served_share'"),
    ("[demand.taxis]\ncar_kw = { HPC = 50 }\n", r"^field 'demand\.taxis\.car_kw\.HPC"),
    ("[demand.taxis]\ncar_kw = { DC = 0 }\n", r"^field 'demand\.taxis\.car_kw\.DC'"),
    ("[demand.taxis]\nmax_trip_min = 0\n", r"^field 'demand\.taxis\.max_trip_min'"),
    ("[candidates]\nsite_costs = 3\n", r"^field 'candidates\.site_costs': expected a string"),
]


@pytest.mark.parametrize(("text", "message"), BAD_DESIGNS)
def test_a_bad_design_or_standard_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, text)
    assert isinstance(info.value, InputError)
    line = str(info.value).removeprefix(f"scenario {tmp_path / 'v.toml'}: ")
    assert len(line.splitlines()) == 1
    assert re.search(message, line), line


def test_a_rule_between_fields_holds_under_overrides() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    with pytest.raises(ScenarioError, match=r"demand\.taxis\.max_trip_min \(40\.0\) must be"):
        sc.with_overrides({"demand.taxis.max_trip_min": 40})
    # the value alone is fine: a sweep may raise the cutoff beside it
    sc.check_override("demand.taxis.max_trip_min", 40)
    assert (
        sc.with_overrides(
            {"demand.taxis.max_trip_min": 40, "travel.cutoff_min": 45}
        ).demand.taxis.max_trip_min
        == 40.0
    )  # type: ignore[union-attr]


def test_the_command_refuses_a_bad_design_with_one_line(tmp_path: Path) -> None:
    path = variant(tmp_path, DC_FAST + DC_FAST.replace("cost_parts", "cost = 1\n#"))
    proc = subprocess.run(
        [sys.executable, "-m", "siting.cli", "run", str(path), "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env={**os.environ, settings.CACHE_DIR_ENV: str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "optimize.designs[1].name" in lines[0] and "'DC fast'" in lines[0]
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ hours and capacity
def test_hours_and_capacity_by_hand(tmp_path: Path) -> None:
    sc = load(tmp_path, DC_FAST + AC_POSTS + STANDARDS)
    segs = resolve_segments(sc)
    fast, posts = design_specs(sc, segs, 0.1)
    assert fast.segments == ("residents", "inbound", "taxis") and posts.segments == ("residents",)
    assert fast.site_kinds == ("fuel", "mall", "transport_hub") and posts.site_kinds is None
    assert fast.cost == 10_500_000 and fast.cost_parts["works"] == 2e6 and posts.cost == 8e6
    assert (fast.station_kw, posts.station_kw) == (120.0, 44.0)
    handling = 6 / 60
    # kWh over the port's power, or the most the group's cars take, plus handling
    assert posts.hours == pytest.approx({"residents": 25 / 11 + handling}, rel=1e-12)
    assert fast.hours == pytest.approx(
        {
            "residents": 25 / 60 + handling,
            "inbound": 20 / 60 + handling,
            "taxis": 30 / 50 + handling,
        },
        rel=1e-12,
    )
    # wait probability only: two ports carry a = (p + sqrt(p^2 + 8p)) / 2 Erlangs
    a = load_for_wait_prob(0.2)
    assert erlang_c_2(a) == pytest.approx(0.2, rel=1e-12)
    for spec in (fast, posts):
        assert spec.capacity_h == pytest.approx(a / 0.1, rel=1e-9)
    assert posts.sessions("residents") == pytest.approx(a / 0.1 / (25 / 11 + handling), rel=1e-9)
    assert fast.sessions("taxis") == pytest.approx(a / 0.1 / 0.7, rel=1e-9)
    # used by one group: the design's sessions are that group's daily capacity
    assert posts.sessions("residents") == pytest.approx(
        daily_capacity(2, posts.hours["residents"], 0.1, max_wait_prob=0.2), rel=1e-9
    )
    with pytest.raises(InputError, match=r"design 'AC posts': serves residents, not 'taxis'"):
        posts.sessions("taxis")


def test_a_mean_wait_bound_takes_the_demand_weighted_mean_session(tmp_path: Path) -> None:
    sc = load(tmp_path, DC_FAST + AC_POSTS + STANDARDS).with_overrides(
        {"optimize.capacity.max_mean_wait_min": 3}
    )
    segs = resolve_segments(sc)
    fast, posts = design_specs(sc, segs, 0.1)
    weights = {g: segs[g].sessions_per_day for g in fast.segments}
    mean_h = sum(weights[g] * fast.hours[g] for g in weights) / sum(weights.values())
    # both bounds hold: the tighter load of the two, at the mean session
    a = min(load_for_wait_prob(0.2), load_for_mean_wait(mean_h, 0.05))
    assert a < load_for_wait_prob(0.2)  # the mean wait binds here
    assert fast.capacity_h == pytest.approx(a / 0.1, rel=1e-9)
    a_posts = min(load_for_wait_prob(0.2), load_for_mean_wait(posts.hours["residents"], 0.05))
    assert posts.capacity_h == pytest.approx(a_posts / 0.1, rel=1e-9)
    assert posts.sessions("residents") == pytest.approx(
        daily_capacity(2, posts.hours["residents"], 0.1, max_wait_prob=0.2, max_mean_wait_h=0.05),
        rel=1e-9,
    )


def test_port_hours_depend_on_the_session_only_through_a_mean_wait() -> None:
    one = port_hours_capacity(2, 0.5, 0.1, max_wait_prob=0.2)
    assert port_hours_capacity(2, 3.0, 0.1, max_wait_prob=0.2) == pytest.approx(one, rel=1e-9)
    assert one == pytest.approx(load_for_wait_prob(0.2) / 0.1, rel=1e-9)
    short = port_hours_capacity(2, 0.5, 0.1, max_mean_wait_h=0.05)
    long = port_hours_capacity(2, 3.0, 0.1, max_mean_wait_h=0.05)
    assert short == pytest.approx(load_for_mean_wait(0.5, 0.05) / 0.1, rel=1e-9)
    assert long == pytest.approx(load_for_mean_wait(3.0, 0.05) / 0.1, rel=1e-9)
    with pytest.raises(InputError, match="peak_hour_share"):
        port_hours_capacity(2, 0.5, 0.0, max_wait_prob=0.2)


@pytest.mark.parametrize("mean_wait_min", [None, 2.0])
def test_default_designs_are_the_old_station_types(mean_wait_min: float | None) -> None:
    sc = legacy()
    if mean_wait_min is not None:
        sc = sc.with_overrides({"optimize.capacity.max_mean_wait_min": mean_wait_min})
    segs = resolve_segments(sc)
    cfg = sc.optimize.capacity
    specs = design_specs(sc, segs, sc.demand.peak_hour_share)
    old = station_capacity(cfg, segs, sc.demand.peak_hour_share)
    cost = station_costs(sc.costs, cfg)
    assert [s.name for s in specs] == ["AC", "DC"] == list(old)
    for spec in specs:
        # capacity over the demand-weighted mean session: the old capacity per type
        w = {g: segs[g].sessions_per_day for g in spec.segments}
        mean_h = sum(w[g] * spec.hours[g] for g in w) / sum(w.values())
        assert spec.capacity_h / mean_h == pytest.approx(old[spec.name], rel=1e-9)
        assert spec.cost == cost[spec.name] and spec.ports == cfg.ports
        assert spec.source == sc.costs.source  # type: ignore[union-attr]
        assert spec.site_kinds is None
    ac, dc = specs
    assert ac.segments == ("residents", "inbound") and dc.segments == (
        "residents",
        "inbound",
        "taxis",
    )
    assert (ac.kw_per_port, dc.kw_per_port) == (cfg.ac_kw, cfg.dc_kw)
    # the parts add up to the cost, and cost_breakdown is as it was
    assert sum(dc.cost_parts.values()) == pytest.approx(dc.cost, rel=1e-12)
    assert cost_breakdown(sc.costs, cfg)["station"] == {"AC": 8_004_890.0, "DC": 10_000_000.0}
    assert cost_breakdown(sc.costs, cfg)["parts"]["DC"] == {  # type: ignore[index]
        "site_works": 0.0,
        "ports": 10_000_000.0,
        "grid_connection": 0.0,
    }


def test_existing_station_design_agrees_with_existing_capacity() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    segs = resolve_segments(sc)
    cfg = sc.optimize.capacity
    frame = pd.DataFrame(
        {
            "site_id": ["E0001", "E0002"],
            "existing": [True, True],
            "type_known": ["DC", "AC"],
            "ports_known": [4.0, 2.0],
            "kw_known": [120.0, 11.0],
        }
    )
    old = existing_capacity(frame, cfg, segs, 0.1)
    for j, (charger, ports, kw) in enumerate([("DC", 4, 120.0), ("AC", 2, 11.0)]):
        spec = existing_spec(charger, ports, kw, cfg, segs, 0.1)
        w = {g: segs[g].sessions_per_day for g in spec.segments}
        mean_h = sum(w[g] * spec.hours[g] for g in w) / sum(w.values())
        assert spec.capacity_h / mean_h == pytest.approx(old[j][1], rel=1e-9)
        assert spec.cost == 0.0 and spec.site_kinds == ("existing_station",)
    dc = existing_spec("DC", 4, 120.0, cfg, segs, 0.1)
    assert dc.name == "existing DC 4 x 120 kW" and dc.segments == ("residents", "inbound", "taxis")
    assert existing_spec("AC", 2, 11.0, cfg, segs, 0.1).segments == ("residents", "inbound")
    # an AC station among DC groups only serves none: the plain mean session, as before
    taxis = {"taxis": segs["taxis"]}
    waits = sc.with_overrides({"optimize.capacity.max_mean_wait_min": 2}).optimize.capacity
    lone = existing_spec("AC", 2, 11.0, waits, taxis, 0.1)
    assert lone.segments == () and lone.hours == {}
    (old_lone,) = existing_capacity(frame.iloc[[1]], waits, taxis, 0.1).values()
    assert lone.capacity_h / (30 / 11 + 0.1) == pytest.approx(old_lone[1], rel=1e-9)
    with pytest.raises(InputError, match=r"existing station: ports"):
        existing_spec("DC", 0, 50.0, cfg, segs, 0.1)
    with pytest.raises(InputError, match=r"existing station: charger.*'HPC'"):
        existing_spec("HPC", 2, 50.0, cfg, segs, 0.1)


def test_design_specs_name_a_group_its_segments_leave_without_design(tmp_path: Path) -> None:
    sc = load(tmp_path, DC_FAST + AC_POSTS)
    segs = resolve_segments(sc)
    # segments built by hand: the taxis can use only the AC posts, which they cannot
    segs["taxis"] = Segment("taxis", 80_000, 0.03, 0.8, 1.5, 30.0, "DC", designs=("AC posts",))
    with pytest.raises(InputError, match=r"^demand\.taxis\.designs: no station design serves"):
        design_specs(sc, segs, 0.1)


def test_design_breakdown(tmp_path: Path) -> None:
    sc = load(tmp_path, DC_FAST + AC_POSTS + STANDARDS)
    specs = design_specs(sc, resolve_segments(sc), 0.1)
    out = design_breakdown(specs, sc.costs)
    assert out["currency"] == "KZT"
    fast = out["designs"]["DC fast"]  # type: ignore[index]
    assert fast["cost"] == 10_500_000 and fast["parts"]["grid"] == 1_500_000
    assert (fast["ports"], fast["kw_per_port"], fast["station_kw"]) == (2, 60.0, 120.0)
    assert fast["source"] == "test figures" and fast["segments"] == [
        "residents",
        "inbound",
        "taxis",
    ]
    assert fast["sessions_day"]["taxis"] == pytest.approx(specs[0].sessions("taxis"), abs=1e-3)
    assert out["designs"]["AC posts"]["parts"] == {}  # type: ignore[index]


def test_segment_standards_are_checked() -> None:
    with pytest.raises(InputError, match=r"demand\.taxis\.weight.*-1"):
        Segment("taxis", 1, 0.1, 0.5, 0.3, 25, "DC", weight=-1)
    with pytest.raises(InputError, match=r"demand\.taxis\.car_kw\.DC.*0"):
        Segment("taxis", 1, 0.1, 0.5, 0.3, 25, "DC", car_kw={"DC": 0.0})
    with pytest.raises(InputError, match=r"demand\.taxis\.min_served_share"):
        Segment("taxis", 1, 0.1, 0.5, 0.3, 25, "DC", min_served_share=2.0)
    with pytest.raises(InputError, match=r"demand\.taxis\.max_trip_min"):
        Segment("taxis", 1, 0.1, 0.5, 0.3, 25, "DC", max_trip_min=math.nan)
    seg = Segment("taxis", 1, 0.1, 0.5, 0.3, 25, "DC", designs=["a"], car_kw={"DC": 50.0})
    assert seg.designs == ("a",) and seg == pickle.loads(pickle.dumps(seg))


# -------------------------------------------------------------------------- site costs
def test_site_costs_are_read(tmp_path: Path) -> None:
    (tmp_path / "site_costs.csv").write_text(
        "# extra capital cost per site, KZT\n"
        "Lat,Lon,Cost,Note,owner\n"
        "43.25,76.92,2500000,grid connection 1.2 km,city\n"
        "43.24, 76.95 ,0,,\n"
    )
    sc = load(tmp_path, '[candidates]\nsite_costs = "site_costs.csv"\n')
    table = load_site_costs(sc)  # resolved against the scenario file's folder
    assert table is not None and list(table.columns) == SITE_COST_COLUMNS
    assert table["cost"].tolist() == [2_500_000.0, 0.0]
    assert table["lon"].tolist() == [76.92, 76.95]
    assert table["note"].tolist() == ["grid connection 1.2 km", ""]
    assert load_site_costs(load_scenario(settings.DEFAULT_SCENARIO)) is None
    gone = load(tmp_path, '[candidates]\nsite_costs = "{data_dir}/nowhere.csv"\n')
    with pytest.raises(MissingFileError, match=r"candidates\.site_costs: file not found"):
        load_site_costs(gone)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lat,lon,note\n43.2,76.9,x\n", r"expected columns lat, lon, cost .*missing cost"),
        ("lat,lon,cost\n", r"lists no sites"),
        ("", r"cannot read"),
        ("lat,lon,cost\n43.2,76.9,100\n43.3,76.9,abc\n", r"row 2: cost: expected a cost .*'abc'"),
        ("lat,lon,cost\n43.2,76.9,-5\n", r"row 1: cost: expected a cost from 0 .*'-5'"),
        ("lat,lon,cost\n95,76.9,5\n", r"row 1: lat: expected a latitude .*'95'"),
        ("lat,lon,cost\n43.2,,5\n", r"row 1: lon: expected a longitude .*''"),
        ("lat,lon,cost\n43.2,76.9,inf\n", r"row 1: cost: .*'inf'"),
    ],
)
def test_a_bad_site_costs_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "costs.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match=r"^candidates\.site_costs: .*" + message) as info:
        read_site_costs(path)
    assert len(str(info.value).splitlines()) == 1
