"""A corpus of bad inputs: scenario fields, data files and command-line arguments.

Each one must end with exit code 2, one line on stderr naming what is wrong, no
traceback, and the previous output folder untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from siting._outdir import MARKER, write_marker
from siting.cli import main
from tests.conftest import small_scenario_text

FAR = [[10.0, 50.0], [10.1, 50.0], [10.1, 50.1], [10.0, 50.1], [10.0, 50.0]]

# (case id, replacements in the small scenario or "+"-appended text, expected message)
SCENARIO_CASES = [
    ("unknown-top-key", ('name = "small"', 'name = "small"\nnme = "x"'), "unknown field 'nme'"),
    ("unknown-nested-key", ("p = 8", "stations = 8"), "unknown field 'optimize.stations'"),
    ("p-zero", ("p = 8", "p = 0"), "field 'optimize.p'"),
    ("p-text", ("p = 8", 'p = "many"'), "field 'optimize.p'"),
    ("model", ("p = 8", 'p = 8\nmodel = "median"'), "field 'optimize.model'"),
    ("solver", ("p = 8", 'p = 8\nsolver = "gurobi"'), "field 'optimize.solver'"),
    ("gap", ("p = 8", "p = 8\ngap = 1.5"), "field 'optimize.gap'"),
    ("threshold-negative", ("threshold_min = 3", "threshold_min = -1"), "optimize.threshold_min"),
    ("threshold-over-cutoff", ("threshold_min = 3", "threshold_min = 30"), "travel.cutoff_min (20"),
    ("phases-without-p", ("p = 8", "p = 8\nphases = [4, 6]"), "must include optimize.p"),
    ("equity", ("p = 8", "p = 8\nequity_share = 1.5"), "optimize.equity_share"),
    ("h3", ("h3_resolution = 8", "h3_resolution = 3"), "demand.h3_resolution"),
    (
        "preset",
        ("h3_resolution = 8", 'h3_resolution = 8\npreset = "tomorrow"'),
        "unknown preset 'tomorrow'",
    ),
    ("name", ('name = "small"', 'name = "small run"'), "field 'name'"),
    ("not-toml", ("p = 8", "p = = 8"), "not valid TOML"),
    ("source", ('source = "file"', 'source = "web"'), "network.source"),
    ("ports", ("p = 8", "p = 8\n[optimize.capacity]\nports = 0"), "optimize.capacity.ports"),
    (
        "sessions",
        ("sessions_per_ev_day = 0.3", "sessions_per_ev_day = -1"),
        "demand.residents.sessions_per_ev_day",
    ),
    ("ev-share", ("count = 80000", "count = 80000\nev_share = 2.0"), "demand.taxis.ev_share"),
    (
        "osm-missing",
        ("roads/almaty-osm-2012.osm.pbf", "roads/nope.osm.pbf"),
        "network.osm_file: file not found",
    ),
    (
        "boundary-missing",
        ("boundary = ", 'boundary = "/nonexistent/area.geojson"\n#'),
        "network.boundary: file not found",
    ),
    (
        "population-missing",
        ("residents-500m-proxy.geojson", "nope.geojson"),
        "demand.population: file not found",
    ),
    (
        "jobs-column",
        ('jobs_column = "emp"', 'jobs_column = "employees"'),
        "has no column 'employees'",
    ),
    (
        "existing-missing",
        ("stations/ocm-146017-supercharger.json", "stations/nope.json"),
        "candidates.existing: file not found",
    ),
    (
        "presets-missing",
        ("h3_resolution = 8", 'h3_resolution = 8\npresets_file = "/nonexistent/adoption.toml"'),
        "demand.presets_file: file not found",
    ),
    ("p-above-candidates", ("p = 8", "p = 500"), "exceeds the 196 candidate sites"),
    (
        "no-candidate-within-threshold",
        ("threshold_min = 3", "threshold_min = 0.02"),
        "optimize.threshold_min: no demand point has a candidate site within 0.02 min",
    ),
    (
        "no-candidate-within-cutoff",
        (
            "cutoff_min = 20\n\n[optimize]\np = 8\nthreshold_min = 3",
            'cutoff_min = 0.02\n\n[optimize]\np = 8\nmodel = "pmedian"\nthreshold_min = 0.01',
        ),
        "travel.cutoff_min: no demand point has a candidate site within 0.02 min",
    ),
    (
        "budget-below-existing",
        (
            "p = 8",
            "p = 8\n[optimize.budget]\ntotal = 1\nsite_cost = 10\n",
        ),
        "optimize.budget.site_cost",
    ),
    # strict types: no bool for a number, no number for a bool, no string for a number
    ("p-bool", ("p = 8", "p = true"), "field 'optimize.p': expected an integer, got true"),
    ("p-float", ("p = 8", "p = 8.5"), "field 'optimize.p': expected an integer, got 8.5"),
    (
        "threshold-bool",
        ("threshold_min = 3", "threshold_min = false"),
        "field 'optimize.threshold_min': expected a number, got false",
    ),
    (
        "threshold-text",
        ("threshold_min = 3", 'threshold_min = "3"'),
        "field 'optimize.threshold_min': expected a number, got '3'",
    ),
    (
        "secondary-number",
        ("p = 8", "p = 8\nsecondary = 1"),
        "field 'optimize.secondary': expected true or false, got 1",
    ),
    ("name-number", ('name = "small"', "name = 5"), "field 'name': expected a string, got 5"),
    (
        "curve-item-bool",
        ("p = 8", "p = 8\ncurve = [4, true]"),
        "field 'optimize.curve[1]': expected an integer, got true",
    ),
    # non-finite numbers, named as written in the scenario
    (
        "handling-inf",
        ("p = 8", "p = 8\n[optimize.capacity]\nhandling_min = inf"),
        "field 'optimize.capacity.handling_min': expected a finite number, got inf",
    ),
    (
        "buffer-nan",
        ("buffer_m = 300", "buffer_m = nan"),
        "field 'network.buffer_m': expected a finite number, got nan",
    ),
    (
        "count-inf",
        ("count = 80000", "count = inf"),
        "field 'demand.taxis.count': expected a finite number, got inf",
    ),
    (
        "speed-inf",
        ("buffer_m = 300", "buffer_m = 300\nspeeds_kph = { primary = inf }"),
        "field 'network.speeds_kph.primary': expected a finite number, got inf",
    ),
    # numbers too large (or small) to mean anything, refused before any solver or GEOS
    ("buffer-huge", ("buffer_m = 300", "buffer_m = 1e12"), "field 'network.buffer_m'"),
    ("count-huge", ("count = 80000", "count = 1e300"), "field 'demand.taxis.count'"),
    ("time-limit-huge", ("time_limit_s = 60", "time_limit_s = 1e300"), "optimize.time_limit_s"),
    (
        "speed-tiny",
        ("buffer_m = 300", "buffer_m = 300\nfallback_speed_kph = 1e-300"),
        "field 'network.fallback_speed_kph'",
    ),
    (
        "connector-speed-tiny",
        ("cutoff_min = 20", "cutoff_min = 20\nconnector_speed_kph = 1e-300"),
        "field 'travel.connector_speed_kph'",
    ),
    (
        "grid-spacing-tiny",
        ("grid_spacing_m = 800", "grid_spacing_m = 0.001"),
        "field 'candidates.grid_spacing_m': expected 0 (no grid) or at least 50 m",
    ),
    ("p-huge", ("p = 8", "p = 9000000000000000000"), "field 'optimize.p'"),
    (
        "budget-huge",
        ("p = 8", "p = 8\n[optimize.budget]\ntotal = 1e300"),
        "field 'optimize.budget.total'",
    ),
    # the name becomes the output folder
    ("name-dot", ('name = "small"', 'name = "."'), "field 'name': expected a plain folder name"),
    ("name-dotdot", ('name = "small"', 'name = ".."'), "field 'name'"),
    ("name-empty", ('name = "small"', 'name = ""'), "field 'name'"),
    ("name-slash", ('name = "small"', 'name = "a/b"'), "field 'name'"),
    ("name-backslash", ('name = "small"', 'name = "a\\\\b"'), "field 'name'"),
    ("name-nul", ('name = "small"', 'name = "a\\u0000"'), "field 'name'"),
    ("name-space", ('name = "small"', 'name = " small"'), "field 'name'"),
]


@pytest.fixture()
def existing_out(tmp_path: Path) -> Path:
    """The folder of an earlier run (its marker says so), which a failed run must keep."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "sites.csv").write_text("previous run\n")
    write_marker(out, "run")
    return out


def fails_cleanly(
    argv: list[str], message: str, out: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    """Run ``argv``; check the failure contract (exit 2, one line holding ``message``,
    no traceback, ``out`` untouched, no temporary folder); return the line."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], lines[0]
    assert sorted(f.name for f in out.iterdir()) == sorted(["sites.csv", MARKER])
    assert (out / "sites.csv").read_text() == "previous run\n"
    assert not [f for f in out.parent.iterdir() if ".partial-" in f.name]
    return lines[0]


@pytest.mark.parametrize(
    ("case", "edit", "message"), SCENARIO_CASES, ids=[c[0] for c in SCENARIO_CASES]
)
def test_bad_scenario(
    case: str,
    edit: tuple[str, str],
    message: str,
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    existing_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = small_scenario_text(data_dir, small_area_file)
    assert edit[0] in text, case
    (tmp_path / "s.toml").write_text(text.replace(edit[0], edit[1], 1))
    fails_cleanly(
        ["run", str(tmp_path / "s.toml"), "--out", str(existing_out)], message, existing_out, capsys
    )


def _stations(path: Path, rows: str) -> Path:
    path.write_text("name,lat,lon,station_type\n" + rows)
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("existing-empty", "candidates.existing"),
        ("existing-outside", "lies outside the city boundary"),
        ("boundary-without-roads", "network.boundary"),
        ("osm-broken", "network.osm_file: cannot read OSM file"),
    ],
)
def test_bad_data_file(
    case: str,
    message: str,
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    existing_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = small_scenario_text(data_dir, small_area_file)
    ocm = '"{data_dir}/stations/ocm-146017-supercharger.json"'
    if case == "existing-empty":
        text = text.replace(ocm, f'"{_stations(tmp_path / "st.csv", "")}"')
    elif case == "existing-outside":
        outside = _stations(tmp_path / "st.csv", "far,50.0,10.0,DC\n")
        text = text.replace(ocm, f'"{outside}"')
    elif case == "boundary-without-roads":
        far = tmp_path / "far.geojson"
        far.write_text(
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {},
                            "geometry": {"type": "Polygon", "coordinates": [FAR]},
                        }
                    ],
                }
            )
        )
        text = text.replace(f'boundary = "{small_area_file}"', f'boundary = "{far}"')
        text = text.replace(ocm, f'"{_stations(tmp_path / "st.csv", "")}"')
    else:
        bad = tmp_path / "broken.osm.pbf"
        bad.write_bytes(b"\x00\x01 not a pbf")
        text = text.replace('"{data_dir}/roads/almaty-osm-2012.osm.pbf"', f'"{bad}"')
    (tmp_path / "s.toml").write_text(text)
    fails_cleanly(
        ["run", str(tmp_path / "s.toml"), "--out", str(existing_out)], message, existing_out, capsys
    )


STATION_HEAD = "name,lat,lon,ports,station_type,kw\n"
GOOD_STATION = "Good,43.24,76.92,2,AC,22\n"
# (case id, the second station's row, what the message says after "row 2 ('Bad'): ")
BAD_STATION_ROWS = [
    ("ports-negative", "Bad,43.25,76.93,-4,DC,50", "ports: expected a whole number", "-4"),
    ("ports-zero-kw-negative", "Bad,43.25,76.93,0,DC,-50", "ports: expected a whole", "0"),
    ("kw-negative", "Bad,43.25,76.93,2,DC,-50", "kw: expected a power in kW above 0", "-50"),
    ("kw-text", "Bad,43.25,76.93,2,DC,fast", "kw: expected a power in kW above 0", "'fast'"),
    ("ports-huge", "Bad,43.25,76.93,1000000000,DC,50", "ports: expected a whole", "1000000000"),
    ("type-unknown", "Bad,43.25,76.93,2,HPC,50", "station_type: expected AC or DC", "'HPC'"),
    # issue 31: a row without a type became a 50 kW DC station (the plan's choice)
    ("type-empty", "Bad,43.25,76.93,2,,50", "station_type: expected AC or DC", "an empty value"),
]


@pytest.mark.parametrize(
    ("case", "row", "message", "got"),
    BAD_STATION_ROWS,
    ids=[c[0] for c in BAD_STATION_ROWS],
)
def test_bad_station_row(
    case: str,
    row: str,
    message: str,
    got: str,
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    existing_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wrong figure in the existing-stations file stops the run (exit 2, one line
    naming the file, the row and the field, with what arrived) instead of being
    replaced by the scenario's figure while sites.csv shows the wrong one. Ports of
    1e9 used to hang the queueing model for hours."""
    stations = tmp_path / "st.csv"
    stations.write_text(STATION_HEAD + GOOD_STATION + row + "\n")
    text = small_scenario_text(data_dir, small_area_file)
    ocm = '"{data_dir}/stations/ocm-146017-supercharger.json"'
    (tmp_path / "s.toml").write_text(text.replace(ocm, f'"{stations}"'))
    line = fails_cleanly(
        ["run", str(tmp_path / "s.toml"), "--out", str(existing_out)],
        f"candidates.existing: {stations} row 2 ('Bad'): {message}",
        existing_out,
        capsys,
    )
    assert line.endswith(f", got {got}"), line  # and what arrived


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "@MISSING@"], "scenario file not found"),
        (["run", "@SCENARIO@", "--out", "@FILE@"], "exists and is not a folder"),
        (["run", "@SCENARIO@", "--set", "optimize.p"], "--set: expected KEY=VALUE"),
        (
            ["run", "@SCENARIO@", "--set", "optimize.p=true"],
            "scenario overrides: field 'optimize.p': expected an integer, got true",
        ),
        (
            ["run", "@SCENARIO@", "--set", "optimize.capacity.handling_min=inf"],
            "field 'optimize.capacity.handling_min': expected a finite number, got inf",
        ),
        (
            ["run", "@SCENARIO@", "--set", "optimise.p=8"],
            "override 'optimise.p': unknown field 'optimise' (did you mean 'optimize'?)",
        ),
        (["run", "@SCENARIO@", "--set", "name=."], "field 'name': expected a plain folder name"),
        (["run", "@SCENARIO@", "--set", "name=.."], "field 'name': expected a plain folder name"),
        (
            ["run", "@SCENARIO@"]
            + [f"--set=demand.{s}.ev_share=0" for s in ("residents", "inbound", "taxis")],
            "demand: every demand point has zero sessions/day",
        ),
        (["compare", "@OUT@"], "expected at least 2 run folders"),
        (["sweep", "@MISSING@"], "sweep file not found"),
        (
            ["sweep", "@SCENARIO@", "--workers", "-1"],
            "--workers: expected 0 (serial) or more, got -1",
        ),
        (["sweep", "@SCENARIO@", "--workers", "0"], "(known: name, base, grid, scenarios"),
        (
            ["run", "@SCENARIO@", "--workers", "-2"],
            "--workers: expected 0 (serial) or more, got -2",
        ),
    ],
)
def test_bad_command_line(
    argv: list[str],
    message: str,
    tmp_path: Path,
    small_scenario: Path,
    existing_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "afile").write_text("x")
    subs = {
        "@MISSING@": str(tmp_path / "missing.toml"),
        "@SCENARIO@": str(small_scenario),
        "@FILE@": str(tmp_path / "afile"),
        "@OUT@": str(existing_out),
    }
    args = [subs.get(a, a) for a in argv]
    if "--out" not in args and args[0] != "compare":
        args += ["--out", str(existing_out)]
    fails_cleanly(args, message, existing_out, capsys)


def test_name_dot_leaves_the_default_output_folder_alone(
    tmp_path: Path,
    small_scenario: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the default output folder is out/<name>: with name "." it was out/ itself, and the
    # run replaced every other run in it
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sites.csv").write_text("previous run\n")
    write_marker(out, "run")
    for name in (".", ".."):
        fails_cleanly(
            ["run", str(small_scenario), "--set", f"name={name}"],
            "field 'name': expected a plain folder name",
            out,
            capsys,
        )
