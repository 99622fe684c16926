"""Demand stage: population pattern rescaled to district totals, on H3 cells."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from siting._errors import DataFileError, InputError
from siting._io import read_vector
from siting.demand import (
    ResidentsAssumptions,
    allocate_to_cells,
    h3_cells,
    population_by_district,
    residents_demand,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def almaty_layers(data_dir: Path):  # type: ignore[no-untyped-def]
    pop = read_vector(
        data_dir / "population" / "residents-500m-proxy.geojson",
        field="p",
        column="population_estimate_final",
    )
    districts = read_vector(data_dir / "boundaries" / "districts.geojson", field="d", column="name")
    city = read_vector(data_dir / "boundaries" / "city.geojson", field="b").union_all()
    totals = pd.read_csv(ROOT / "data" / "almaty-district-population.csv", comment="#")
    return pop, districts, city, totals.set_index("district")["population"].astype(float)


def test_district_totals_are_matched_exactly_cell_by_cell(almaty_layers) -> None:  # type: ignore[no-untyped-def]
    pop, districts, city, totals = almaty_layers
    pieces = population_by_district(pop, "population_estimate_final", districts, totals=totals)
    cells = h3_cells(city, 8)
    parts = allocate_to_cells(pieces, cells)
    by_district = parts.groupby("district")["pop"].sum()
    np.testing.assert_allclose(by_district.sort_index(), totals.sort_index(), rtol=1e-12)

    a = ResidentsAssumptions(615_000, 0.0211, 0.5, 0.3, 25.0)
    demand = residents_demand(parts, cells, a, metric_crs=pieces.crs)
    # conservation: the segment total is the input count times its shares
    assert demand["sessions_day"].sum() == pytest.approx(615_000 * 0.0211 * 0.5 * 0.3, rel=1e-12)
    assert demand["vehicles"].sum() == pytest.approx(615_000, rel=1e-12)
    assert demand["kwh_day"].sum() == pytest.approx(615_000 * 0.0211 * 0.5 * 0.3 * 25, rel=1e-12)
    assert demand["h3"].is_unique
    # each cell is 0.5–1 km²; its demand point (population-weighted centre) lies in its hexagon
    area_km2 = cells.to_crs(pieces.crs).area / 1e6
    assert 0.5 <= area_km2.mean() <= 1.0
    hexes = demand.to_crs(pieces.crs).geometry.buffer(0.01)
    pts = gpd.GeoSeries(gpd.points_from_xy(demand["lon"], demand["lat"]), crs=4326).to_crs(
        pieces.crs
    )
    assert hexes.contains(pts, align=False).all()


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
    assert sums["A"] == pytest.approx(1000.0)
    assert sums["B"] == pytest.approx(500.0)
    # the pattern inside A is kept: 100 : 300
    a = pieces[pieces["district"] == "A"].sort_values("pop")["pop"].to_numpy()
    assert a == pytest.approx([250.0, 750.0])


def test_bad_demand_inputs(tmp_path: Path) -> None:
    zones = gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    far = gpd.GeoDataFrame({"v": [1.0]}, geometry=[box(10, 10, 11, 11)], crs="EPSG:4326")
    with pytest.raises(DataFileError, match="does not overlap"):
        population_by_district(far, "v", zones)
    neg = gpd.GeoDataFrame({"v": [-1.0]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    with pytest.raises(DataFileError, match="negative"):
        population_by_district(neg, "v", zones)
    ok = gpd.GeoDataFrame({"v": [1.0]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    with pytest.raises(DataFileError, match="not in the districts"):
        population_by_district(ok, "v", zones, totals=pd.Series({"Z": 5.0}))
    with pytest.raises(InputError, match="ev_share"):
        ResidentsAssumptions(1000, 1.5, 0.5, 0.3, 25)
    with pytest.raises(InputError, match="vehicles"):
        ResidentsAssumptions(-1, 0.1, 0.5, 0.3, 25)
    nocrs = tmp_path / "nocrs.geojson"
    nocrs.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"v":1},'
        '"geometry":{"type":"Point","coordinates":[500000,4700000]}}],'
        '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32643"}}}'
    )
    layer = read_vector(nocrs, field="demand.population", column="v")  # reprojected from UTM
    assert -180 <= layer.geometry.x.iloc[0] <= 180
    with pytest.raises(DataFileError, match="no column 'w'"):
        read_vector(nocrs, field="demand.population", column="w")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_layer_without_crs_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"v": [1.0]}, geometry=[Point(0, 0)]).to_file(path)
    with pytest.raises(DataFileError, match="has no CRS"):
        read_vector(path, field="demand.population", column="v")
