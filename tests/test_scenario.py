"""Scenario files: strict validation with messages that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from siting import settings
from siting._errors import MissingFileError, ScenarioError
from siting.scenario import load_scenario, resolve_segments


def test_default_scenario_is_valid_and_resolves_data() -> None:
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    assert sc.name == "almaty" and sc.optimize.p == 311
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
        (("p = 311", "p = -3"), "'optimize.p'.*greater than or equal to 1.*-3"),
        (("p = 311", 'p = "many"'), "'optimize.p'.*integer.*'many'"),
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
