"""End-to-end runs and the command-line program's error contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from siting import settings
from siting._outdir import MARKER, write_marker
from siting.cli import main
from tests.conftest import small_scenario_text


def test_small_run_outputs(small_run) -> None:  # type: ignore[no-untyped-def]
    result, out = small_run
    p = result.scenario.optimize.p
    names = {f.name for f in out.iterdir()}
    assert {
        "map.html",
        "sites.csv",
        "sites.geojson",
        "kpis.json",
        "run.log",
        "districts.csv",
        "demand.csv",
        "plan.gpkg",
        "served_areas.geojson",
        "districts.geojson",
        "curve.csv",
        "access_times.png",
    } <= names
    assert "served_vs_stations.png" not in names  # one station count: no curve to draw
    assert not [
        f for f in out.parent.iterdir() if f.name.startswith(".out.")
    ]  # no temp folders left

    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == p and sites["site_id"].is_unique
    assert set(sites["node"]) <= set(result.graph.nodes)  # all on the largest SCC
    assert (sites["status"] == "existing").sum() == 1
    assert set(sites["status"]) <= {"existing", "new"}
    gj = gpd.read_file(out / "sites.geojson")
    assert len(gj) == p and set(gj["site_id"]) == set(sites["site_id"])

    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["stations"] == p
    assert kpis["solver"]["status"] == "optimal" and kpis["solver"]["gap"] <= 1e-4
    assert 0 < kpis["coverage_share"] <= 1
    assert kpis["p95_access_min"] >= kpis["mean_access_min"] > 0
    assert kpis["inputs"]["osm_file"]["sha256"] == "9582e95712cf1ab3"
    assert sites["area_sessions"].sum() == pytest.approx(kpis["demand_covered"], rel=1e-4)
    # capacitated default: the objective is the demand served, which no station exceeds
    assert kpis["solver"]["model"] == "capacitated"
    assert kpis["served"]["sessions_day"] == pytest.approx(kpis["solver"]["objective"], abs=1e-3)
    assert sites["sessions_served"].sum() == pytest.approx(kpis["served"]["sessions_day"], rel=1e-4)
    assert (sites["sessions_served"] <= sites["capacity_sessions"] + 1e-4).all()
    assert set(sites["station_type"]) <= {"AC", "DC"}
    assert kpis["served"]["sessions_day"] <= kpis["demand_covered"] + 1e-6
    # demand with no candidate within the threshold: counted, and never covered
    reach = kpis["out_of_reach"]
    assert reach["field"] == "optimize.threshold_min" and reach["points"] > 0
    assert kpis["coverage_share"] <= 1 - reach["share"] + 1e-6
    from siting.summary import summary

    assert f"out of reach: {100 * reach['share']:.1f}% of demand" in summary(kpis)

    html = (out / "map.html").read_text()
    assert len(re.findall(r'"className": "siting-station siting-(?:new|existing)"', html)) == p
    assert "Districts" in html and "Demand: all segments (sessions/day)" in html
    log = (out / "run.log").read_text()
    assert all(f"stage {s}" in log for s in ("network", "demand", "optimize", "map"))


def test_same_inputs_same_plan(small_run, tmp_path: Path, small_scenario: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Another process, another hash seed, cold caches: the same sites and figures."""
    _, first = small_run
    out = tmp_path / "again"
    proc = run_cli(
        "run",
        str(small_scenario),
        "--out",
        str(out),
        "-q",
        cwd=tmp_path,
        env={"PYTHONHASHSEED": "12345", settings.CACHE_DIR_ENV: str(tmp_path / "cold")},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cold" / "travel").is_dir()  # built afresh, not read
    assert (out / "sites.csv").read_text() == (first / "sites.csv").read_text()
    a = json.loads((first / "kpis.json").read_text())
    b = json.loads((out / "kpis.json").read_text())
    for k in ("timings_s", "created"):
        a.pop(k)
        b.pop(k)
    for d in (a, b):
        d["solver"] = {
            k: v
            for k, v in d["solver"].items()
            # a plan read from the solve cache says so: the plan itself is the same
            if not k.endswith("_s") and k not in ("secondary", "cached")
        }
    assert a == b


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "siting.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_clean_failure(proc: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture()
def existing_out(tmp_path: Path) -> Path:
    """The folder of an earlier run (its marker says so), which a failed run must keep."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "sites.csv").write_text("previous run\n")
    write_marker(out, "run")
    return out


def check_untouched(out: Path) -> None:
    assert sorted(f.name for f in out.iterdir()) == sorted(["sites.csv", MARKER])
    assert (out / "sites.csv").read_text() == "previous run\n"
    assert not [f for f in out.parent.iterdir() if ".partial-" in f.name]


def test_missing_scenario_file(tmp_path: Path, existing_out: Path) -> None:
    proc = run_cli("run", str(tmp_path / "nope.toml"), "--out", str(existing_out), cwd=tmp_path)
    assert_clean_failure(proc, r"scenario file not found: .*nope\.toml")
    check_untouched(existing_out)


def test_unreadable_osm_file(
    tmp_path: Path, data_dir: Path, small_area_file: Path, existing_out: Path
) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x01 not a pbf")
    text = small_scenario_text(data_dir, small_area_file).replace(
        'osm_file = "{data_dir}/roads/almaty-osm-2012.osm.pbf"', f'osm_file = "{bad}"'
    )
    (tmp_path / "s.toml").write_text(text)
    proc = run_cli("run", "s.toml", "--out", str(existing_out), cwd=tmp_path)
    assert_clean_failure(proc, r"network\.osm_file: cannot read OSM file .*broken\.osm\.pbf")
    check_untouched(existing_out)


def test_p_below_existing_stations(
    tmp_path: Path, data_dir: Path, small_area_file: Path, existing_out: Path
) -> None:
    stations = tmp_path / "stations.csv"
    stations.write_text(
        "name,lat,lon,station_type\nA,43.25,76.93,AC\nB,43.24,76.92,DC\nC,43.23,76.95,AC\n"
    )
    text = small_scenario_text(data_dir, small_area_file, p=2).replace(
        'existing = "{data_dir}/stations/ocm-146017-supercharger.json"', f'existing = "{stations}"'
    )
    (tmp_path / "s.toml").write_text(text)
    proc = run_cli("run", "s.toml", "--out", str(existing_out), cwd=tmp_path)
    assert_clean_failure(proc, r"optimize\.p = 2 is smaller than the 3 existing stations")
    check_untouched(existing_out)


def test_bad_field_in_scenario(tmp_path: Path) -> None:
    text = settings.DEFAULT_SCENARIO.read_text().replace("p = 312", "stations = 312")
    (tmp_path / "s.toml").write_text(text)
    proc = run_cli("run", "s.toml", cwd=tmp_path)
    assert_clean_failure(proc, r"unknown field 'optimize.stations'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (
            ('jobs_column = "emp"', 'jobs_column = "employees"'),
            r"demand\.jobs: .*jobs-h3r9\.geojson has no column 'employees'",
        ),
        (
            ('jobs = "{data_dir}/population/jobs-h3r9.geojson"', 'jobs = "@FAR@"'),
            r"demand\.jobs: the layer does not overlap the city",
        ),
        (
            (
                'population = "{data_dir}/population/residents-500m-proxy.geojson"',
                'population = "@NOCRS@"',
            ),
            r"demand\.population: .* has no CRS",
        ),
        (
            ("count = 80000", "count = 80000\nev_share = 2.0"),
            r"'demand\.taxis\.ev_share'.*less than or equal to 1",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_bad_demand_input_through_the_cli(
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    existing_out: Path,
    edit: tuple[str, str],
    pattern: str,
) -> None:
    far = tmp_path / "far.geojson"
    gpd.GeoDataFrame(
        {"emp": [5.0]}, geometry=gpd.points_from_xy([10.0], [10.0]), crs="EPSG:4326"
    ).to_file(far)
    nocrs = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame(
        {"population_estimate_final": [5.0]}, geometry=gpd.points_from_xy([76.93], [43.24])
    ).to_file(nocrs)
    text = small_scenario_text(data_dir, small_area_file)
    assert edit[0] in text
    text = text.replace(edit[0], edit[1]).replace("@FAR@", str(far)).replace("@NOCRS@", str(nocrs))
    (tmp_path / "s.toml").write_text(text)
    proc = run_cli("run", "s.toml", "--out", str(existing_out), cwd=tmp_path)
    assert_clean_failure(proc, pattern)
    check_untouched(existing_out)


@pytest.mark.parametrize("model", ["mclp", "pmedian"])
def test_other_models_in_the_pipeline(small_scenario: Path, cache_dir: Path, model: str) -> None:
    from siting.pipeline import plan
    from siting.scenario import load_scenario

    sc = load_scenario(small_scenario).with_overrides({"optimize.model": model})
    run = plan(sc, cache_dir=cache_dir)
    k = run.kpis
    assert k["solver"]["model"] == model and k["stations"] == sc.optimize.p
    w = run.demand["sessions_day"].to_numpy()
    if model == "mclp":  # objective = demand within the threshold, as evaluate finds it
        assert k["demand_covered"] == pytest.approx(k["solver"]["objective"], rel=1e-6)
    else:  # objective = weighted access seconds, beyond the cutoff counted at the cutoff
        t = np.minimum(run.per_demand["access_min"].to_numpy() * 60.0, run.travel.cutoff_s)
        assert float(w @ t) == pytest.approx(k["solver"]["objective"], rel=1e-4)


def test_spacing_and_equity_through_the_pipeline(small_scenario: Path, cache_dir: Path) -> None:
    from siting._geo import NodeIndex
    from siting.errors import InfeasibleError
    from siting.pipeline import plan
    from siting.scenario import load_scenario

    sc = load_scenario(small_scenario).with_overrides({"optimize.min_spacing_m": 900.0})
    run = plan(sc, cache_dir=cache_dir)
    xy = NodeIndex.from_graph(run.graph).to_metric(
        run.sites["lon"].to_numpy(), run.sites["lat"].to_numpy()
    )
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 900.0 - 1e-6  # no two stations closer than the minimum spacing
    assert run.kpis["solver"]["status"] == "optimal" and run.kpis["stations"] == sc.optimize.p
    # the test area clips a sliver of Alatau that no candidate reaches: equity is explained
    sc = sc.with_overrides({"optimize.equity_share": 0.5})
    with pytest.raises(
        InfeasibleError, match=r"equity_share = 0\.5 cannot be met in district 'Alatau'"
    ):
        plan(sc, cache_dir=cache_dir)


def test_nested_phases_in_the_pipeline(
    small_scenario: Path, cache_dir: Path, tmp_path: Path
) -> None:
    from siting.pipeline import run
    from siting.scenario import load_scenario

    sc = load_scenario(small_scenario).with_overrides({"optimize.phases": [4, 8, 10]})
    out = tmp_path / "phased"
    result = run(sc, out, cache_dir=cache_dir)
    phases = pd.read_csv(out / "phases.csv")
    assert list(phases["p"]) == [4, 8, 10]
    assert (phases["cost_of_nesting"] >= -1e-9).all()
    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == 8 and set(sites["phase"]) <= {4, 8}
    assert (sites["phase"] == 4).sum() == 4  # the first phase's stations stay in the plan
    assert result.kpis["phasing"][1]["objective"] == pytest.approx(result.result.objective)


def test_unknown_budget_field_through_the_cli(
    tmp_path: Path, data_dir: Path, small_area_file: Path, existing_out: Path
) -> None:
    """Station costs moved to [costs]; a budget holds only its total."""
    text = small_scenario_text(
        data_dir, small_area_file, extra="\n[optimize.budget]\ntotal = 100\nsite_cost = 500\n"
    )
    (tmp_path / "s.toml").write_text(text)
    proc = run_cli("run", "s.toml", "--out", str(existing_out), cwd=tmp_path)
    assert_clean_failure(proc, r"unknown field 'optimize\.budget\.site_cost'")
    check_untouched(existing_out)


def test_run_layers_served_areas_and_districts_agree(small_run) -> None:  # type: ignore[no-untyped-def]
    """Served areas hold exactly the demand within the threshold; districts add up."""
    import pyogrio

    _, out = small_run
    kpis = json.loads((out / "kpis.json").read_text())
    sites = pd.read_csv(out / "sites.csv")
    areas = gpd.read_file(out / "served_areas.geojson")
    assert set(areas["site_id"]) <= set(sites["site_id"])
    assert areas["area_sessions"].sum() == pytest.approx(kpis["demand_covered"], rel=1e-4)
    assert (areas["area_km2"] > 0).all()
    layers = {name for name, _ in pyogrio.list_layers(out / "plan.gpkg")}
    assert layers == {"sites", "demand", "districts", "served_areas"}
    assert len(gpd.read_file(out / "plan.gpkg", layer="sites")) == len(sites)
    districts = pd.read_csv(out / "districts.csv")
    # capacitated: demand served is what the stations serve, less than what they cover
    assert districts["served"].sum() == pytest.approx(kpis["demand_served"], abs=2e-3)
    assert kpis["demand_served"] == pytest.approx(kpis["served"]["sessions_day"], rel=1e-6)
    assert kpis["demand_served"] < kpis["demand_covered"]
    assert (districts["served_share"] <= districts["coverage_share"] + 1e-9).all()
    demand = pd.read_csv(out / "demand.csv")
    assert demand["served"].sum() == pytest.approx(kpis["demand_served"], abs=2e-3)
    # popups' neighbour lists name other chosen stations
    for text in sites["neighbours"].dropna():
        ids = [part.split(" (")[0] for part in text.split("; ")]
        assert set(ids) <= set(sites["site_id"]) and len(ids) <= settings.NEIGHBOURS


def test_curve_of_station_counts(small_run_mclp) -> None:  # type: ignore[no-untyped-def]
    _, out = small_run_mclp
    curve = pd.read_csv(out / "curve.csv")
    assert curve[["stations", "source"]].values.tolist() == [
        [4, "alone"],
        [6, "alone"],
        [10, "plan"],
    ]
    kpis = json.loads((out / "kpis.json").read_text())
    # covering model: the objective is the demand covered, and served means covered
    assert np.allclose(curve["objective"], curve["demand_served"], rtol=1e-4)
    assert np.allclose(curve["served_share"], curve["coverage_share"])
    assert curve["demand_served"].is_monotonic_increasing
    assert curve.iloc[-1]["coverage_share"] == pytest.approx(kpis["coverage_share"], abs=1e-6)
    assert (out / "served_vs_stations.png").stat().st_size > 20_000


def test_curve_below_existing_stations_is_refused(small_scenario: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = small_scenario.parent / "out"
    code = main(["run", str(small_scenario), "--out", str(out), "--set", "optimize.curve=[0]"])
    assert code == 2
    assert "optimize.curve" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("optimize.p", "--set: expected KEY=VALUE"),
        ("optimize.pp=3", "unknown field 'optimize.pp' (did you mean 'p'?)"),
        ("optimize.p=many", "field 'optimize.p'"),
        ("demand.preset=tomorrow", "demand.preset: unknown preset 'tomorrow'"),
    ],
)
def test_set_overrides_bad_input(small_scenario: Path, capsys, item: str, message: str) -> None:  # type: ignore[no-untyped-def]
    out = small_scenario.parent / "out"
    assert main(["run", str(small_scenario), "--out", str(out), "--set", item]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("debug", [False, True])
def test_internal_error_exit_1_names_the_log(
    small_scenario: Path,
    existing_out: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    debug: bool,
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("evaluation exploded\nsecond line of detail")

    monkeypatch.setattr("siting.evaluate.evaluate_plan", broken)
    logs = tmp_path / "cache"
    monkeypatch.setenv(settings.CACHE_DIR_ENV, str(logs))
    argv = ["run", str(small_scenario), "--out", str(existing_out)]
    code = main(argv + (["--debug"] if debug else []))
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0] == "siting: internal error: RuntimeError: evaluation exploded"
    where = re.search(r"the log and traceback are in (\S+\.log)$", err, re.M)
    assert where, err
    log_file = Path(where.group(1))
    assert log_file.parent == logs / "logs" and log_file.exists()
    text = log_file.read_text()
    assert "stage network" in text and "stage travel" in text  # the run's own log lines
    assert "Traceback" in text and "RuntimeError: evaluation exploded" in text
    if debug:
        assert "Traceback (most recent call last)" in err
    else:
        assert "Traceback" not in err and len(lines) == 3 and "--debug" in lines[2]
    check_untouched(existing_out)


def test_costed_plan_does_not_move_with_the_curve(
    data_dir: Path, small_area_file: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """A change that does not touch the instance (the curve sizes, solved side by side
    with the frontier) leaves the plan, its station types and the frontier as they were."""
    from siting.pipeline import plan, prepare
    from siting.scenario import load_scenario
    from tests.conftest import small_scenario_text

    costs = '\n[costs]\ncurrency = "KZT"\nport = { AC = 4.0e6, DC = 5.4e7 }\nsource = "test"\n'
    plans = []
    inputs = None
    for k, curve in enumerate(["[]", "[3, 6]"]):
        path = tmp_path / f"costed{k}.toml"
        path.write_text(
            small_scenario_text(data_dir, small_area_file, p=8, extra=f"curve = {curve}") + costs
        )
        sc = load_scenario(path)
        inputs = inputs or prepare(sc, cache_dir=cache_dir)
        plans.append(plan(sc, cache_dir=cache_dir, inputs=inputs))
    a, b = plans
    assert len(a.kpis["frontier"]) >= 2  # a costed plan: the frontier was solved
    assert a.sites["site_id"].tolist() == b.sites["site_id"].tolist()
    assert a.sites["station_type"].tolist() == b.sites["station_type"].tolist()
    assert a.kpis["frontier"] == b.kpis["frontier"]
    assert len(b.curve) > len(a.curve)


@pytest.mark.parametrize(
    ("segment", "model"),
    [("taxis", "capacitated"), ("inbound", "capacitated"), ("residents", "capacitated"),
     ("taxis", "mclp")],
)  # fmt: skip
def test_a_segment_set_to_zero_runs_and_its_columns_are_zero(
    small_scenario: Path, cache_dir: Path, tmp_path: Path, segment: str, model: str
) -> None:
    """Found by hand (issue 15): a segment with no vehicles crashed the district figures."""
    out = tmp_path / "out"
    code = main(
        [
            "run", str(small_scenario), "--out", str(out), "-q",
            "--set", f"demand.{segment}.count=0", "--set", f"optimize.model='{model}'",
        ]
    )  # fmt: skip
    assert code == 0
    districts = pd.read_csv(out / "districts.csv")
    assert (districts[f"{segment}_sessions_day"] == 0).all()
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["demand_total"] == pytest.approx(districts["sessions_day"].sum(), rel=1e-6)
    assert (districts[f"{segment}_served_sessions_day"] == 0).all()
    row = kpis["segments"]["by_segment"][segment]
    assert row["served_sessions_day"] == 0 and row["served_share"] is None


def test_unknown_station_figures_are_assumed_warned_and_marked(
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A station file may leave ports or power empty (OSM and OCM often do): the run
    goes on with the scenario's figures, warns of them, and sites.csv says which
    figures of which existing station were assumed. (Its type it must give: see
    tests/test_frictions.py.)"""
    stations = tmp_path / "stations.csv"
    stations.write_text(
        "name,lat,lon,ports,station_type,kw\nKnown,43.24,76.92,4,DC,120\nBare,43.25,76.93,,AC,\n"
    )
    text = small_scenario_text(data_dir, small_area_file).replace(
        'existing = "{data_dir}/stations/ocm-146017-supercharger.json"', f'existing = "{stations}"'
    )
    (tmp_path / "s.toml").write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("WARNING siting.kpis")]
    assert len(warned) == 2 and all("1 of 2" in w and " 'Bare')" in w for w in warned)
    assert "2 ports each are assumed (optimize.capacity.ports)" in warned[0]
    sites = pd.read_csv(out / "sites.csv", keep_default_na=False).set_index("name")
    assert sites.loc["Known", "assumed"] == "" and sites.loc["Known", "ports"] == 4
    assert sites.loc["Bare", "assumed"] == "ports;kw"
    assert sites.loc["Bare", "ports"] == 2 and sites.loc["Bare", "station_type"] == "AC"
    assert (sites.loc[sites["status"] == "new", "assumed"] == "").all()
    bare = sites.loc["Bare", "site_id"]
    assert f"have no ports recorded ({bare} 'Bare')" in (out / "run.log").read_text()
