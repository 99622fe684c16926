"""Sites a council forces into the plan or keeps out (candidates.force, .exclude,
.exclude_areas), and what that costs against the free optimum."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from siting.errors import InputError


def test_forced_and_excluded_sites_shape_the_plan(small_run, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from siting.pipeline import plan

    result, out = small_run
    sites = pd.read_csv(out / "sites.csv")
    cands = gpd.read_file(out / "candidates.geojson")
    chosen = sites.loc[sites["status"] == "new", "site_id"].astype(str).tolist()
    outside = cands.loc[~cands["in_plan"] & ~cands["existing"], ["site_id", "osmid", "lat", "lon"]]
    force = [str(outside["site_id"].iloc[0])]
    # the second by a point a few metres off it
    lat, lon = float(outside["lat"].iloc[1]), float(outside["lon"].iloc[1])
    force.append(f"{lat + 0.00002:.6f},{lon:.6f}")
    exclude = chosen[:2]
    sc = result.scenario.with_overrides({"candidates.force": force, "candidates.exclude": exclude})
    run = plan(sc, cache_dir=cache_dir)
    ids = run.candidates["site_id"].astype(str).to_numpy()
    got = {str(ids[j]) for j in run.result.selected}
    assert {force[0], str(outside["site_id"].iloc[1])} <= got
    assert not got & set(exclude)
    c = run.kpis["controls"]
    assert c["excluded"] == 2 and len(c["forced"]) == 2
    # the free optimum serves at least as much (within the gap)
    assert c["free_served_sessions_day"] >= c["served_sessions_day"] * (1 - 1e-3) - 1e-6
    assert c["sites_differ"] >= 2  # the forced ones at least
    json.dumps(c)  # written to kpis.json as it is


def test_an_area_keeps_every_candidate_inside_it_out(
    small_run, cache_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from siting._site_controls import site_controls
    from siting.pipeline import prepare

    result, out = small_run
    cands = gpd.read_file(out / "candidates.geojson")
    new = cands[~cands["existing"]]
    lat, lon = float(new["lat"].median()), float(new["lon"].median())
    area = gpd.GeoDataFrame(
        geometry=[box(lon - 0.005, lat - 0.005, lon + 0.005, lat + 0.005)], crs=4326
    )
    path = tmp_path / "protected.geojson"
    area.to_file(path, driver="GeoJSON")
    sc = result.scenario.with_overrides({"candidates.exclude_areas": str(path)})
    inputs = prepare(sc, cache_dir=cache_dir)
    controls = site_controls(sc, inputs)
    inside = new[
        (new["lat"].between(lat - 0.005, lat + 0.005))
        & (new["lon"].between(lon - 0.005, lon + 0.005))
    ]
    assert len(inside) > 0
    got = set(inputs.candidates["site_id"].astype(str).iloc[controls.closed])
    assert got == set(inside["site_id"].astype(str))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"candidates.force": ["osm-node-1"]}, r"candidates\.force\[0\]: expected a site id"),
        ({"candidates.exclude": ["0.0,0.0"]}, r"candidates\.exclude\[0\]: expected a point within"),
    ],
)
def test_a_site_that_is_not_there_is_named(small_run, cache_dir: Path, override, message) -> None:  # type: ignore[no-untyped-def]
    from siting._site_controls import site_controls
    from siting.pipeline import prepare

    result, _ = small_run
    inputs = prepare(result.scenario, cache_dir=cache_dir)
    with pytest.raises(InputError, match=message):
        site_controls(result.scenario.with_overrides(override), inputs)


def test_an_existing_station_cannot_be_excluded(small_run, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from siting._site_controls import site_controls
    from siting.pipeline import prepare

    result, _ = small_run
    inputs = prepare(result.scenario, cache_dir=cache_dir)
    cand = inputs.candidates
    old = cand.loc[cand["existing"], "site_id"].astype(str)
    if old.empty:
        pytest.skip("no existing station in the small area")
    with pytest.raises(InputError, match="existing station"):
        site_controls(result.scenario.with_overrides({"candidates.exclude": [old.iloc[0]]}), inputs)


def test_evaluate_scores_a_brought_plan_against_the_best(small_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`siting evaluate PLAN.csv SCENARIO`: the plan's own figures, the best plan of as
    many stations beside it, the swaps; a row twice is merged and said so."""
    from tests.test_cli import run_cli

    _, out = small_run
    sites = pd.read_csv(out / "sites.csv")
    cands = gpd.read_file(out / "candidates.geojson")
    chosen = sites.loc[sites["status"] == "new", "site_id"].astype(str).tolist()
    other = cands.loc[~cands["in_plan"] & ~cands["existing"], "site_id"].astype(str).tolist()
    mine = [*chosen[1:], other[0], chosen[1]]  # one site moved, one row twice
    plan_csv = tmp_path / "mine.csv"
    pd.DataFrame({"site_id": mine}).to_csv(plan_csv, index=False)
    scenario = tmp_path / "small.toml"
    scenario.write_text((out.parent / "small.toml").read_text())
    proc = run_cli(
        "evaluate", str(plan_csv), str(scenario), "--out", str(tmp_path / "ev"), "--swaps", "2",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "forced" in proc.stdout and "swap" in proc.stdout
    kpis = json.loads((tmp_path / "ev" / "kpis.json").read_text())
    c = kpis["controls"]
    assert sorted(c["forced"]) == sorted(set(mine))
    assert any("merged" in note for note in c["notes"])
    written = pd.read_csv(tmp_path / "ev" / "sites.csv")
    assert set(written.loc[written["status"] == "new", "site_id"].astype(str)) == set(mine)
    assert c["free_served_sessions_day"] >= c["served_sessions_day"] - 1e-6
    assert 1 <= len(c["swaps"]) <= 3


def test_evaluate_refuses_a_bad_plan_file_with_one_line(tmp_path: Path) -> None:
    from tests.test_cli import run_cli

    bad = tmp_path / "bad.csv"
    bad.write_text("name\nsomewhere\n")
    proc = run_cli("evaluate", str(bad), "--out", str(tmp_path / "ev"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "expected a site_id column or lat and lon columns" in proc.stderr
    assert not (tmp_path / "ev").exists()


def test_a_file_of_points_excludes_its_sites(small_run, cache_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from siting._site_controls import site_controls
    from siting.pipeline import prepare

    result, out = small_run
    sites = pd.read_csv(out / "sites.csv")
    new = sites[sites["status"] == "new"].head(2)
    points = tmp_path / "keep_out.csv"
    new[["lat", "lon"]].to_csv(points, index=False)
    sc = result.scenario.with_overrides({"candidates.exclude_file": str(points)})
    inputs = prepare(sc, cache_dir=cache_dir)
    closed = site_controls(sc, inputs).closed
    assert set(inputs.candidates["site_id"].astype(str).iloc[closed]) == set(new["site_id"])
    bad = tmp_path / "bad.csv"
    bad.write_text("lat,lon\n43.2,\n")
    with pytest.raises(
        InputError, match=r"candidates\.force_file: line 2 of bad\.csv gives no site"
    ):
        site_controls(result.scenario.with_overrides({"candidates.force_file": str(bad)}), inputs)
