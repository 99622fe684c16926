"""Demand model: segments conserved exactly, district totals matched, inputs checked."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from siting import settings
from siting._io import read_vector
from siting.cells import (
    allocate_to_cells,
    h3_cells,
    layer_on_cells,
    points_on_cells,
    population_by_district,
)
from siting.demand import Segment, build_demand, district_allocation, district_summary
from siting.errors import DataFileError, InputError
from siting.scenario import load_scenario, resolve_segments

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def almaty(data_dir: Path):  # type: ignore[no-untyped-def]
    """Cells, population parts, jobs and districts of the whole city (built once)."""
    pop = read_vector(
        data_dir / "population" / "residents-500m-proxy.geojson",
        field="p",
        column="population_estimate_final",
    )
    districts = read_vector(data_dir / "boundaries" / "districts.geojson", field="d", column="name")
    city = read_vector(data_dir / "boundaries" / "city.geojson", field="b").union_all()
    totals = pd.read_csv(ROOT / "data" / "almaty-district-population.csv", comment="#")
    totals = totals.set_index("district")["population"].astype(float)
    pieces = population_by_district(pop, "population_estimate_final", districts, totals=totals)
    cells = h3_cells(city, 8)
    parts = allocate_to_cells(pieces, cells)
    jobs_layer = read_vector(data_dir / "population" / "jobs-h3r9.geojson", field="j", column="emp")
    jobs = layer_on_cells(jobs_layer, "emp", cells, field="demand.jobs")
    return {
        "cells": cells,
        "parts": parts,
        "jobs": jobs,
        "districts": districts,
        "totals": totals,
        "crs": pieces.crs,
        "city": city,
    }


SEGMENTS = {
    "residents": Segment("residents", 615_000, 0.0211, 0.5, 0.3, 25.0, "AC"),
    "inbound": Segment("inbound", 400_000, 0.0106, 0.3, 0.5, 20.0, "AC"),
    "taxis": Segment("taxis", 80_000, 0.03, 0.8, 1.5, 30.0, "DC"),
}


def test_every_segment_total_is_its_count_times_its_shares(almaty) -> None:  # type: ignore[no-untyped-def]
    a = almaty
    hubs = pd.Series([5.0, 10.0], index=a["cells"]["h3"].iloc[[100, 200]])
    corridors = pd.Series([1.0, 1.0, 2.0], index=a["cells"]["h3"].iloc[[10, 20, 30]])
    demand = build_demand(
        a["cells"],
        a["parts"],
        SEGMENTS,
        jobs=a["jobs"],
        hubs=hubs,
        corridors=corridors,
        corridor_share=0.1,
        districts=a["districts"],
        metric_crs=a["crs"],
    )
    for name, seg in SEGMENTS.items():
        want = seg.count * seg.ev_share * seg.public_share * seg.sessions_per_ev_day
        assert demand[f"{name}_sessions_day"].sum() == pytest.approx(want, rel=1e-12)
        assert demand[f"{name}_kwh_day"].sum() == pytest.approx(
            want * seg.kwh_per_session, rel=1e-12
        )
    assert demand["sessions_day"].sum() == pytest.approx(
        sum(s.sessions_per_day for s in SEGMENTS.values())
    )
    assert demand["dc_sessions_day"].sum() == pytest.approx(SEGMENTS["taxis"].sessions_per_day)
    # the corridor share lands on the corridor cells, in proportion 1 : 1 : 2
    inbound = demand.set_index("h3")["inbound_sessions_day"]
    jobs_share = a["jobs"] / a["jobs"].sum()
    total = SEGMENTS["inbound"].sessions_per_day
    for k, w in zip([10, 20, 30], [0.25, 0.25, 0.5], strict=True):
        h = a["cells"]["h3"].iloc[k]
        expect = total * (0.9 * jobs_share.get(h, 0.0) + 0.1 * w)
        assert inbound.get(h, 0.0) == pytest.approx(expect, rel=1e-9)
    assert demand["h3"].is_unique and (demand["sessions_day"] > 0).all()
    assert set(demand["district"]) <= set(a["districts"]["name"]) | {"outside"}


def test_residents_match_official_totals_district_by_district(almaty) -> None:  # type: ignore[no-untyped-def]
    a = almaty
    np.testing.assert_allclose(
        a["parts"].groupby("district")["pop"].sum().sort_index(),
        a["totals"].sort_index(),
        rtol=1e-12,
    )
    demand = build_demand(
        a["cells"],
        a["parts"],
        SEGMENTS,
        jobs=a["jobs"],
        districts=a["districts"],
        metric_crs=a["crs"],
        taxi_jobs_weight=1.0,
    )
    alloc = district_allocation(demand, a["parts"], SEGMENTS)
    summary = district_summary(alloc, a["parts"], peak_hour_share=0.1).set_index("district")
    share = a["totals"] / a["totals"].sum()
    want = share * SEGMENTS["residents"].sessions_per_day
    np.testing.assert_allclose(summary.loc[want.index, "residents_sessions_day"], want, rtol=1e-9)
    np.testing.assert_allclose(
        summary.loc[a["totals"].index, "population"], a["totals"], rtol=1e-12
    )
    # peak load: busiest hour's energy in MW
    np.testing.assert_allclose(summary["peak_mw"], summary["kwh_day"] * 0.1 / 1000)
    assert summary["sessions_day"].sum() == pytest.approx(demand["sessions_day"].sum(), rel=1e-9)
    # cells are 0.5–1 km²; each demand point lies in its hexagon
    area_km2 = a["cells"].to_crs(a["crs"]).area / 1e6
    assert 0.5 <= area_km2.mean() <= 1.0
    hexes = demand.to_crs(a["crs"]).geometry.buffer(0.01)
    pts = gpd.GeoSeries(gpd.points_from_xy(demand["lon"], demand["lat"]), crs=4326).to_crs(a["crs"])
    assert hexes.contains(pts, align=False).all()


def test_presets_change_only_the_ev_shares(tmp_path: Path) -> None:
    text = settings.DEFAULT_SCENARIO.read_text()
    today = resolve_segments(load_scenario(settings.DEFAULT_SCENARIO))
    path = tmp_path / "growth.toml"
    path.write_text(text.replace('preset = "today"', 'preset = "growth-2030"'))
    growth = resolve_segments(load_scenario(path))
    assert today["residents"].ev_share == 0.0211 and growth["residents"].ev_share == 0.105
    assert growth["taxis"].ev_share == 0.20
    for name in today:
        assert growth[name].count == today[name].count
        assert growth[name].sessions_per_day > today[name].sessions_per_day
    # an explicit ev_share overrides the preset
    path.write_text(path.read_text().replace("[demand.taxis]", "[demand.taxis]\nev_share = 0.5"))
    assert resolve_segments(load_scenario(path))["taxis"].ev_share == 0.5


def test_point_layers_and_other_crs_are_accepted(tmp_path: Path) -> None:
    zones = gpd.GeoDataFrame(
        {"name": ["A", "B"]},
        geometry=[box(76.90, 43.20, 76.95, 43.25), box(76.95, 43.20, 77.0, 43.25)],
        crs="EPSG:4326",
    )
    pts = gpd.GeoDataFrame(
        {"people": [100.0, 300.0, 50.0]},
        geometry=[Point(76.91, 43.21), Point(76.93, 43.24), Point(76.97, 43.22)],
        crs="EPSG:4326",
    ).to_crs("EPSG:3857")
    path = tmp_path / "pts.gpkg"
    pts.to_file(path)
    layer = read_vector(path, field="demand.population", column="people")
    assert layer.crs.to_epsg() == 4326
    pieces = population_by_district(
        layer, "people", zones, totals=pd.Series({"A": 1000.0, "B": 500.0})
    )
    sums = pieces.groupby("district")["pop"].sum()
    assert sums["A"] == pytest.approx(1000.0) and sums["B"] == pytest.approx(500.0)
    a = pieces[pieces["district"] == "A"].sort_values("pop")["pop"].to_numpy()
    assert a == pytest.approx([250.0, 750.0])  # the pattern inside A is kept: 100 : 300


def test_points_on_cells_counts_a_label_once_per_cell() -> None:
    cells = h3_cells(box(76.90, 43.20, 76.95, 43.25), 8)
    pts = [(76.92, 43.22, 10.0), (76.9201, 43.2201, 10.0), (76.9202, 43.2202, 3.0)]
    once = points_on_cells(pts, cells, once_per=["airport", "airport", "bus"])
    assert once.sum() == pytest.approx(13.0)
    assert points_on_cells(pts, cells).sum() == pytest.approx(23.0)


def test_bad_demand_inputs(tmp_path: Path) -> None:
    zones = gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    far = gpd.GeoDataFrame({"v": [1.0]}, geometry=[box(10, 10, 11, 11)], crs="EPSG:4326")
    with pytest.raises(DataFileError, match="does not overlap"):
        population_by_district(far, "v", zones)
    with pytest.raises(DataFileError, match="does not overlap the city"):
        layer_on_cells(far, "v", h3_cells(box(0, 0, 0.1, 0.1), 7), field="demand.jobs")
    neg = gpd.GeoDataFrame({"v": [-1.0]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    with pytest.raises(DataFileError, match="negative"):
        population_by_district(neg, "v", zones)
    ok = gpd.GeoDataFrame({"v": [1.0]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    with pytest.raises(DataFileError, match="not in the districts"):
        population_by_district(ok, "v", zones, totals=pd.Series({"Z": 5.0}))
    with pytest.raises(InputError, match=r"demand\.taxis\.ev_share.*\[0, 1\].*1\.5"):
        Segment("taxis", 1000, 1.5, 0.5, 0.3, 25)
    with pytest.raises(InputError, match=r"demand\.inbound\.count.*>= 0"):
        Segment("inbound", -1, 0.1, 0.5, 0.3, 25)
    with pytest.raises(InputError, match="charger"):
        Segment("residents", 1, 0.1, 0.5, 0.3, 25, "XX")
    utm = tmp_path / "utm.geojson"
    utm.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"v":1},'
        '"geometry":{"type":"Point","coordinates":[500000,4700000]}}],'
        '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32643"}}}'
    )
    layer = read_vector(utm, field="demand.population", column="v")  # reprojected from UTM
    assert -180 <= layer.geometry.x.iloc[0] <= 180
    with pytest.raises(DataFileError, match="no column 'w'"):
        read_vector(utm, field="demand.population", column="w")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_layer_without_crs_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"v": [1.0]}, geometry=[Point(0, 0)]).to_file(path)
    with pytest.raises(DataFileError, match="has no CRS"):
        read_vector(path, field="demand.population", column="v")


def test_city_without_layers_falls_back_to_osm_proxies(
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from siting.pipeline import plan
    from tests.conftest import small_scenario_text

    text = small_scenario_text(data_dir, small_area_file)
    for line in (
        'population = "{data_dir}/population/residents-500m-proxy.geojson"',
        'population_column = "population_estimate_final"',
        'jobs = "{data_dir}/population/jobs-h3r9.geojson"',
        'jobs_column = "emp"',
    ):
        assert line in text
        text = text.replace(line, "")
    path = tmp_path / "proxy.toml"
    path.write_text(text)
    sc = load_scenario(path)
    with caplog.at_level("WARNING", logger="siting"):
        run = plan(sc, cache_dir=cache_dir)
    assert "demand.population: no layer given; using an OSM proxy" in caplog.text
    assert "demand.jobs: no layer given; using an OSM proxy" in caplog.text
    segs = resolve_segments(sc)
    for name, seg in segs.items():
        assert run.demand[f"{name}_sessions_day"].sum() == pytest.approx(
            seg.sessions_per_day, rel=1e-9
        )
    # proxies put residents where buildings are: the busiest residents cell has buildings
    assert (run.demand["population"] > 0).sum() > 10
    assert run.kpis["stations"] == sc.optimize.p
