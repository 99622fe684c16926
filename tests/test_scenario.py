"""Scenario files: strict validation with messages that name the field."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from siting import settings
from siting.errors import MissingFileError, ScenarioError
from siting.scenario import load_scenario, resolve_segments


def test_default_scenario_is_valid_and_resolves_data() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    assert sc.name == "almaty" and sc.optimize.p == 312
    assert sc.demand.residents is not None and sc.demand.residents.count == 615_000
    path = sc.resolve(sc.network.osm_file, field="network.osm_file")
    assert path is not None and path.name == "almaty-osm-2012.osm.pbf" and path.exists()


def test_data_dir_env_takes_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path))
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    assert sc.data_path == tmp_path.resolve()
    with pytest.raises(MissingFileError, match=r"network\.osm_file"):
        sc.resolve(sc.network.osm_file, field="network.osm_file")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("p = 312", "p = -3"), "'optimize.p'.*greater than or equal to 1.*-3"),
        (("p = 312", 'p = "many"'), "'optimize.p'.*integer.*'many'"),
        (
            ("threshold_min = 5", "thresold_min = 5"),
            "unknown field 'optimize.thresold_min'.*did you mean 'threshold_min'",
        ),
        (
            ("public_share = 0.5", "public_share = 1.7"),
            "'demand.residents.public_share'.*less than or equal to 1",
        ),
        (("count = 80000", "count = -5"), "'demand.taxis.count'.*greater than or equal to 0.*-5"),
        (
            ('preset = "today"', 'preset = "tomorrow"'),
            "unknown preset 'tomorrow'.*known: today, growth-2030",
        ),
        (('jobs_column = "emp"', ""), "demand.jobs and demand.jobs_column go together"),
        (('solver = "highs"', 'solver = "gurobi"'), "'optimize.solver'.*'highs' or 'cbc'"),
        (("cutoff_min = 30", "cutoff_min = 2"), "cutoff_min.*at least.*threshold_min"),
        (('name = "almaty"', 'name = "a b/c"'), "'name'"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = settings.DEFAULT_SCENARIO.read_text()
    assert edit[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ScenarioError, match=message):
        resolve_segments(load_scenario(path))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="scenario file not found"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)


def test_source_needs_its_input(tmp_path: Path) -> None:
    text = settings.DEFAULT_SCENARIO.read_text()
    text = text.replace('source = "file"', 'source = "place"').replace(
        'place = "Almaty, Kazakhstan"', 'place = ""'
    )
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"network\.source = 'place' needs network\.place"):
        load_scenario(path)


BASE = load_scenario(settings.DEFAULT_SCENARIO)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # no bool for a number
        ("optimize.p", True, "field 'optimize.p': expected an integer, got true"),
        ("optimize.capacity.ports", False, "expected an integer, got false"),
        ("optimize.threshold_min", True, "field 'optimize.threshold_min': expected a number"),
        ("demand.residents.count", True, "expected a number, got true"),
        ("costs.port", {"AC": True}, "field 'costs.port.AC': expected a number, got true"),
        # no number for a bool
        ("optimize.secondary", 1, "field 'optimize.secondary': expected true or false, got 1"),
        ("network.cache", 0.0, "field 'network.cache': expected true or false, got 0.0"),
        # no string for a number, no number for a string, no float for an integer
        ("optimize.p", "8", "field 'optimize.p': expected an integer, got '8'"),
        ("optimize.gap", "0.1", "field 'optimize.gap': expected a number, got '0.1'"),
        ("optimize.p", 311.0, "field 'optimize.p': expected an integer, got 311.0"),
        ("demand.preset", 2030, "field 'demand.preset': expected a string, got 2030"),
        ("optimize.capacity.types", "AC", "field 'optimize.capacity.types': expected a list"),
        ("optimize.curve", [100, 2.5], "field 'optimize.curve[1]': expected an integer"),
        ("optimize.capacity", 5, "field 'optimize.capacity': expected a table, got 5"),
        # no nan or inf for any float, named as written in the scenario
        (
            "optimize.capacity.handling_min",
            math.inf,
            "field 'optimize.capacity.handling_min': expected a finite number, got inf",
        ),
        ("network.buffer_m", math.nan, "field 'network.buffer_m': expected a finite number"),
        ("optimize.minimum.targets", [1.0, -math.inf], "'optimize.minimum.targets[1]'"),
        ("benefits.pollutants_g_per_kg_fuel", {"NOx": math.nan}, "'benefits.pollutants_g"),
    ],
)
def test_strict_types(key: str, value: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)) as info:
        BASE.with_overrides({key: value})
    assert len(str(info.value).splitlines()) == 1


def test_valid_toml_numbers_still_load() -> None:
    # an integer is a valid float, and stays the same number
    sc = BASE.with_overrides({"network.buffer_m": 1000, "optimize.capacity.ac_kw": 22})
    assert sc.network.buffer_m == 1000.0 and isinstance(sc.network.buffer_m, float)
    assert sc.optimize.capacity.ac_kw == 22.0 and isinstance(sc.optimize.capacity.ac_kw, float)
    assert sc.model_dump() == BASE.model_dump()
    assert BASE.costs is not None and BASE.costs.port == {"AC": 4002445.0, "DC": 5000000.0}
    assert BASE.optimize.curve == [100, 200] and BASE.optimize.minimum is not None


@pytest.mark.parametrize(
    ("key", "largest", "refused"),
    [
        ("network.buffer_m", settings.MAX_DISTANCE_M, 1e12),
        ("network.fallback_speed_kph", settings.MAX_SPEED_KPH, 1e300),
        ("network.fallback_speed_kph", settings.MIN_SPEED_KPH, 1e-300),
        ("network.speeds_kph", {"primary": settings.MIN_SPEED_KPH}, {"primary": 1e-300}),
        ("network.timeout_s", settings.MAX_TIMEOUT_S, 1e300),
        ("demand.residents.count", settings.MAX_VEHICLES, 1e300),
        ("demand.taxis.sessions_per_ev_day", settings.MAX_SESSIONS_PER_DAY, 1e300),
        ("demand.taxis.kwh_per_session", settings.MAX_KWH_PER_SESSION, 1e300),
        ("candidates.grid_spacing_m", settings.MIN_GRID_SPACING_M, 1e-3),
        ("candidates.grid_spacing_m", settings.MAX_DISTANCE_M, 1e300),
        ("candidates.snap_max_m", settings.MAX_DISTANCE_M, 1e300),
        ("candidates.existing_reported", settings.MAX_STATIONS, 10**18),
        ("travel.connector_speed_kph", settings.MIN_SPEED_KPH, 1e-300),
        ("travel.cutoff_min", settings.MAX_MINUTES, 1e300),
        ("optimize.p", settings.MAX_STATIONS, 10**18),
        ("optimize.time_limit_s", settings.MAX_TIME_LIMIT_S, 1e300),
        ("optimize.threads", settings.MAX_THREADS, 10**9),
        ("optimize.min_spacing_m", settings.MAX_DISTANCE_M, 1e300),
        ("optimize.curve", [settings.MAX_STATIONS], [10**18]),
        ("optimize.capacity.ports", settings.MAX_STATION_PORTS, 10**18),
        ("optimize.capacity.dc_kw", settings.MAX_CHARGER_KW, 1e300),
        ("optimize.capacity.ac_kw", settings.MIN_CHARGER_KW, 1e-300),
        ("optimize.capacity.handling_min", settings.MAX_MINUTES, 1e300),
        ("optimize.budget", {"total": settings.MAX_MONEY}, {"total": 1e300}),
        ("costs.port", {"DC": settings.MAX_MONEY}, {"DC": 1e300}),
        ("costs.site_works", settings.MAX_MONEY, 1e300),
        ("benefits.ev_kwh_per_km", settings.MIN_KWH_PER_KM, 1e-300),
        ("benefits.lifetime_years", settings.MAX_LIFETIME_YEARS, 1e300),
    ],
)
def test_numbers_are_bounded(key: str, largest: object, refused: object) -> None:
    BASE.with_overrides({key: largest})
    with pytest.raises(ScenarioError, match=re.escape(f"field '{key}")):
        BASE.with_overrides({key: refused})


def test_real_city_figures_are_within_the_bounds() -> None:
    # a megacity with more of everything than Almaty still validates
    BASE.with_overrides(
        {
            "demand.residents.count": 20_000_000,
            "network.buffer_m": 20_000,
            "optimize.p": 20_000,
            "optimize.threshold_min": 30,
            "travel.cutoff_min": 120,
            "optimize.time_limit_s": 86_400,
            "optimize.capacity.dc_kw": 350,
            "optimize.capacity.ports": 40,
            "optimize.budget": {"total": 1e13},
            "candidates.grid_spacing_m": 100,
        }
    )


def test_override_inside_a_section_left_out() -> None:
    assert BASE.optimize.budget is None
    sc = BASE.with_overrides({"optimize.budget.total": 1e9})
    assert sc.optimize.budget is not None and sc.optimize.budget.total == 1e9
    with pytest.raises(ScenarioError, match=r"override 'optimize\.p\.x': 'p' is not a section"):
        BASE.with_overrides({"optimize.p.x": 1})


def test_check_override_is_about_the_value_alone() -> None:
    BASE.check_override("optimize.threshold_min", 40)  # above the cutoff: a rule between fields
    BASE.check_override("optimize.phases", [150])  # needs optimize.p = 150 beside it
    with pytest.raises(ScenarioError, match=r"field 'optimize\.threshold_min': expected a number"):
        BASE.check_override("optimize.threshold_min", True)
    with pytest.raises(ScenarioError, match=r"unknown field 'optimize\.stations'"):
        BASE.check_override("optimize.stations", 8)
    with pytest.raises(ScenarioError, match=r"field 'optimize.phases\[0\]'"):
        BASE.check_override("optimize.phases", [0])


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"demand.residents.publc_share": [0.3, 0.7]}, "unknown field 'demand.residents.publc"),
        ({"demand.residents.public_share": [0.3, 1.5]}, "'demand.residents.public_share'"),
        ({"optimize.p": [100, 200]}, "field 'optimize.p': expected an integer, got 100.0"),
        ({"demand.preset": [0, 1]}, "field 'demand.preset': expected a string"),
    ],
)
def test_futures_ranges_are_fields(ranges: dict[str, list[float]], message: str) -> None:
    futures = {"presets": ["today"], "ranges": ranges}
    with pytest.raises(ScenarioError, match=f"futures.ranges: .*{re.escape(message)}"):
        BASE.with_overrides({"futures": futures})
    ok = {"presets": ["today"], "ranges": {"demand.residents.public_share": [0.3, 0.7]}}
    assert BASE.with_overrides({"futures": ok}).futures is not None


def test_a_variant_changes_its_base_key_by_key(tmp_path: Path) -> None:
    """``base`` makes a scenario a variant: tables merged, other values replaced."""
    base = settings.DEFAULT_SCENARIO.read_text()
    (tmp_path / "almaty.toml").write_text(base)
    (tmp_path / "v.toml").write_text(
        'base = "almaty.toml"\nname = "v"\n[optimize]\np = 20\n'
        '[optimize.capacity]\ntypes = ["AC", "DC"]\n'
    )
    full, variant = load_scenario(tmp_path / "almaty.toml"), load_scenario(tmp_path / "v.toml")
    assert (variant.name, variant.optimize.p) == ("v", 20)
    assert variant.optimize.capacity.types == ["AC", "DC"]
    # everything else is the base's, deeper tables too
    assert variant.optimize.capacity.dc_kw == full.optimize.capacity.dc_kw
    assert variant.optimize.threshold_min == full.optimize.threshold_min
    assert variant.demand == full.demand and variant.costs == full.costs


def test_the_shipped_mixed_scenario_is_the_programme_with_more_designs() -> None:
    programme = load_scenario(settings.DEFAULT_SCENARIO)
    mixed = load_scenario(settings.DEFAULT_SCENARIO.parent / "almaty-mixed.toml")
    assert programme.design_names() == ["programme"]
    assert mixed.design_names() == ["ac-pair", "programme", "fast-hub"]
    # the programme's design is the same in both
    assert mixed.optimize.designs[1] == programme.optimize.designs[0]
    same = mixed.with_overrides(
        {
            "name": "almaty",
            "description": programme.description,
            "optimize.designs": [programme.optimize.designs[0].model_dump(exclude_none=True)],
        }
    )
    assert same.model_dump() == programme.model_dump()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('base = "nowhere.toml"', r"v\.toml: base: scenario file not found: .*nowhere\.toml"),
        ("base = 3", r"v\.toml: base: expected the path of a scenario file, got 3"),
        ('base = "v.toml"', r"v\.toml: base: v\.toml leads back to v\.toml"),
        ('base = "w.toml"', r"w\.toml: base: v\.toml leads back to w\.toml"),
    ],
)
def test_a_bad_base_is_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "v.toml").write_text(text + '\nname = "v"\n')
    (tmp_path / "w.toml").write_text('base = "v.toml"\n')
    with pytest.raises((ScenarioError, MissingFileError), match=message):
        load_scenario(tmp_path / "v.toml")
