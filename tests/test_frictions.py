"""Frictions a new user met (issue 31): ``--set`` inside a section the scenario leaves
out, British spellings of field names, the notebooks' README, an existing station
without a type."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from siting import settings
from siting.candidates import load_existing
from siting.cli import main
from siting.errors import DataFileError, ScenarioError
from siting.scenario import load_scenario, parse_overrides

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = load_scenario(settings.DEFAULT_SCENARIO)


@pytest.mark.parametrize("item", ["optimize.budget.total=5e9", "optimize.budget={ total = 5e9 }"])
def test_set_a_key_inside_a_section_the_scenario_leaves_out(item: str) -> None:
    """``--set optimize.budget.total=5e9`` failed with "'budget' is not a section"; it
    and the inline-table form give the same budget."""
    assert DEFAULT.optimize.budget is None
    sc = DEFAULT.with_overrides(parse_overrides([item]))
    assert sc.optimize.budget is not None and sc.optimize.budget.total == 5e9


def test_the_readme_shows_the_inline_table_form() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--set 'optimize.budget={ total = 5e9 }'" in text
    assert "--set optimize.budget.total=5e9" in text


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("optimise.p", "unknown field 'optimise' (did you mean 'optimize'?)"),
        ("optimize.budgte.total", "unknown field 'optimize.budgte' (did you mean 'budget'?)"),
        ("nowhere.p", "unknown field 'nowhere' (known: name, description, data_dir"),
        ("optimize.p.x", "'p' is not a section"),
    ],
)
def test_an_unknown_section_in_an_override_is_named_with_a_suggestion(
    key: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        DEFAULT.with_overrides({key: 1})
    assert str(err.value).startswith(f"override {key!r}: {message}")
    assert "\n" not in str(err.value)


def test_british_spellings_are_suggested_in_files_too(tmp_path: Path) -> None:
    """A scenario file's own unknown key gets the same suggestion (``[optimise]``), and a
    leaf key too (``optimize.capacity.handling_mins`` by closeness)."""
    text = settings.DEFAULT_SCENARIO.read_text(encoding="utf-8")
    path = tmp_path / "s.toml"
    path.write_text(text.replace("[optimize]", "[optimise]", 1), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"unknown field 'optimise' \(did you mean 'optimize'"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"did you mean 'handling_min'\?"):
        DEFAULT.with_overrides({"optimize.capacity.handling_mins": 2})


def test_set_optimise_on_the_command_line_is_one_line_with_the_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(settings.DEFAULT_SCENARIO), "--out", str(tmp_path / "o")]
    code = main([*argv, "--set", "optimise.p=400", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.endswith("unknown field 'optimise' (did you mean 'optimize'?)")
    assert not (tmp_path / "o").exists()


def test_the_notebooks_readme_says_what_each_notebook_needs() -> None:
    """It said "Both" of three notebooks and left the third out."""
    text = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert len(names) == 3 and not re.search(r"\bBoth\b", text)
    for name in names:
        entry = text.split(f"`{name}`", 1)[1].split("\n- ", 1)[0]
        assert "Needs" in entry, name  # what it needs, in its own entry


# ---------------------------------------------------------- existing station without a type


def test_a_station_row_without_a_type_names_file_row_and_field(tmp_path: Path) -> None:
    """It used to become whatever type the plan liked (a 50 kW DC station)."""
    path = tmp_path / "st.csv"
    path.write_text(
        "name,lat,lon,ports,station_type,kw\nOK,43.24,76.92,2,AC,22\nBare,43.25,76.93,,,\n"
    )
    with pytest.raises(DataFileError) as err:
        load_existing(path)
    msg = str(err.value)
    assert msg.startswith(f"candidates.existing: {path} row 2 ('Bare'): station_type: expected ")
    assert msg.endswith("got an empty value") and "\n" not in msg


def test_a_station_file_without_a_type_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text("name,lat,lon,ports\nA,43.25,76.93,2\n")
    with pytest.raises(DataFileError, match=r"needs a 'station_type' column .*has name, lat, lon"):
        load_existing(path)
    gj = tmp_path / "st.geojson"
    feature = {
        "type": "Feature",
        "properties": {"name": "X", "station_type": None},
        "geometry": {"type": "Point", "coordinates": [76.93, 43.25]},
    }
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(DataFileError, match=r"st.geojson feature 1 \('X'\): station_type: "):
        load_existing(gj)


def test_an_open_charge_map_file_record_without_a_type_is_refused(tmp_path: Path) -> None:
    """The user's own OCM file: a record whose connections say neither AC nor DC is an
    error naming the record (downloaded OCM data keeps it, of unknown type, warned)."""
    ocm = tmp_path / "ocm.json"
    record = {
        "ID": 8,
        "AddressInfo": {"Title": "Z", "Latitude": 43.25, "Longitude": 76.93},
        "Connections": [{"PowerKW": 22, "Quantity": 2}],
    }
    ocm.write_text(json.dumps([record]))
    with pytest.raises(DataFileError, match=r"ocm.json record 1 \(ocm:8\): Connections: expected"):
        load_existing(ocm)
