"""Candidate sites: OSM features, road grid and existing stations."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from siting._geo import NodeIndex
from siting._osm import read_features
from siting.candidates import build_candidates, load_existing
from siting.errors import DataFileError, InputError
from siting.existing import parse_ocm_record, parse_osm_tags, read_ocm
from siting.scenario import load_scenario


@pytest.fixture(scope="module")
def area(small_area_file: Path):  # type: ignore[no-untyped-def]
    return gpd.read_file(small_area_file).union_all()


def test_candidates_from_features_grid_and_existing(
    small_graph: nx.MultiDiGraph, area, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    index = NodeIndex.from_graph(small_graph)
    feats = read_features(data_dir / "roads" / "almaty-osm-2012.osm.pbf", field="f")
    assert {"parking", "fuel", "cafe", "park"} <= set(feats.kind)
    existing = load_existing(data_dir / "stations" / "ocm-146017-supercharger.json")
    assert existing.loc[0, "ports"] == 4
    cand = build_candidates(
        index, features=feats, area=area, grid_spacing_m=800, snap_max_m=300, existing=existing
    )
    # the existing station first, its id from its record (Open Charge Map 146017)
    assert cand.iloc[0]["existing"] and cand.iloc[0]["site_id"] == "ocm-146017"
    assert cand["site_id"].is_unique
    assert cand["existing"].sum() == 1
    # every candidate is a node of the strongly connected graph
    assert set(cand["node"]) <= set(small_graph.nodes)
    new = cand[~cand["existing"]]
    assert new["node"].is_unique  # one non-existing candidate per road node
    assert not set(new["node"]) & set(cand.loc[cand["existing"], "node"])
    assert (new["snap_m"] <= 300).all()
    kinds = set(cand["kind"])
    assert "road_grid" in kinds and "parking" in kinds
    assert area.buffer(1e-9).contains(cand.geometry).all()


def test_existing_station_formats(tmp_path: Path) -> None:
    csv = tmp_path / "st.csv"
    csv.write_text("name,Latitude,Longitude,ports,type\nA,43.25,76.93,2,AC\nB,43.24,76.92,,DC\n")
    df = load_existing(csv)
    assert list(df["name"]) == ["A", "B"] and df["lat"].iloc[0] == 43.25
    gj = tmp_path / "st.geojson"
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "X", "station_type": "DC"},
                        "geometry": {"type": "Point", "coordinates": [76.93, 43.25]},
                    }
                ],
            }
        )
    )
    assert load_existing(gj)["lon"].iloc[0] == pytest.approx(76.93)
    empty = tmp_path / "empty.csv"
    empty.write_text("name,lat,lon,station_type\n")
    with pytest.raises(DataFileError, match="lists no stations"):
        load_existing(empty)
    nolat = tmp_path / "nolat.csv"
    nolat.write_text("name,x1,y1\nA,1,2\n")
    with pytest.raises(DataFileError, match="needs 'lat' and 'lon'"):
        load_existing(nolat)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,lat,lon,station_type\nA,143.0,76.9,AC\n")
    with pytest.raises(DataFileError, match=r"row 1 \('A'\): lat: expected a latitude"):
        load_existing(bad)


def test_existing_station_outside_city_is_an_error(small_graph: nx.MultiDiGraph, area) -> None:  # type: ignore[no-untyped-def]
    index = NodeIndex.from_graph(small_graph)
    far = pd.DataFrame({"name": ["Astana"], "lon": [71.43], "lat": [51.13], "ports": [2]})
    with pytest.raises(InputError, match="outside the city boundary"):
        build_candidates(
            index, features=None, area=area, grid_spacing_m=800, snap_max_m=300, existing=far
        )


# (file text after the header "name,lat,lon,ports,station_type,kw", field, what arrived)
BAD_ROWS = [
    ("A,43.25,76.93,-4,DC,50", "ports", "got -4"),
    ("A,43.25,76.93,0,DC,-50", "ports", "got 0"),
    ("A,43.25,76.93,2,DC,-50", "kw", "got -50"),
    ("A,43.25,76.93,2,DC,fast", "kw", "got 'fast'"),
    ("A,43.25,76.93,2,DC,inf", "kw", "got inf"),
    ("A,43.25,76.93,2.5,AC,22", "ports", "got 2.5"),
    ("A,43.25,76.93,1000000000,DC,50", "ports", "got 1000000000"),
    ("A,43.25,76.93,2,XL,22", "station_type", "got 'XL'"),
    ("A,43.25,north,2,AC,22", "lon", "got 'north'"),
]


@pytest.mark.parametrize(("row", "column", "got"), BAD_ROWS, ids=[r[2] for r in BAD_ROWS])
def test_a_bad_figure_in_a_station_file_names_file_row_and_field(
    row: str, column: str, got: str, tmp_path: Path
) -> None:
    """A station file's figure that is present but wrong is refused, never replaced by
    a default: one message naming the file, the row, the field, what was expected and
    what arrived (the second row here; the first is good)."""
    path = tmp_path / "st.csv"
    path.write_text(f"name,lat,lon,ports,station_type,kw\nOK,43.24,76.92,2,AC,22\n{row}\n")
    with pytest.raises(DataFileError) as err:
        load_existing(path)
    msg = str(err.value)
    assert msg.startswith(f"candidates.existing: {path} row 2 ('A'): {column}: expected ")
    assert msg.endswith(got) and "\n" not in msg


def test_bad_figures_in_geojson_and_open_charge_map_files(tmp_path: Path) -> None:
    gj = tmp_path / "st.geojson"
    feature = {
        "type": "Feature",
        "properties": {"name": "X", "ports": 0, "kw": 22, "station_type": "AC"},
        "geometry": {"type": "Point", "coordinates": [76.93, 43.25]},
    }
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(DataFileError, match=r"st.geojson feature 1 \('X'\): ports: .* got 0$"):
        load_existing(gj)
    ocm = tmp_path / "ocm.json"
    record = {
        "ID": 7,
        "AddressInfo": {"Title": "Y", "Latitude": 43.25, "Longitude": 76.93},
        "Connections": [{"CurrentTypeID": 30, "PowerKW": "fast", "Quantity": 2}],
    }
    ocm.write_text(json.dumps([record]))
    with pytest.raises(
        DataFileError, match=r"ocm.json record 1 \(ocm:7\): Connections\[0\].PowerKW: .* got 'fast'"
    ):
        load_existing(ocm)
    ocm.write_text(json.dumps({**record, "NumberOfPoints": -4, "Connections": []}))
    with pytest.raises(DataFileError, match=r"NumberOfPoints: expected a whole number .* got -4"):
        load_existing(ocm)


def test_missing_figures_are_unknown_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text("name,lat,lon,ports,station_type,kw\nA,43.25,76.93,,AC,\nB,43.24,76.92,3,dc,\n")
    df = load_existing(path)
    assert np.isnan(df.loc[0, "ports"]) and df.loc[0, "station_type"] == "AC"
    assert np.isnan(df.loc[0, "kw"]) and np.isnan(df.loc[1, "kw"])
    assert df.loc[1, "ports"] == 3 and df.loc[1, "station_type"] == "DC"


def test_crowd_data_bad_figures_warn_and_read_as_unknown(caplog: pytest.LogCaptureFixture) -> None:
    """OSM tags and Open Charge Map downloads: a bad figure is a warning naming the
    station, and the figure is unknown (a sensible one from another tag is kept)."""
    tags = {"capacity": "-4", "socket:type2": "2", "socket:type2:output": "22 kW"}
    with caplog.at_level("WARNING", logger="siting.existing"):
        got = parse_osm_tags(tags, where="osm:node/1")
        assert got == {"ports": 2.0, "station_type": "AC", "kw": 22.0}  # the sockets' count
        huge = parse_osm_tags({"capacity": "1000000000", "socket:chademo": "1"}, where="osm:node/2")
        assert huge["ports"] == 1.0 and huge["station_type"] == "DC"
        fast = parse_osm_tags({"charging_station:output": "fast"}, where="osm:node/3")
        assert np.isnan(fast["kw"]) and np.isnan(fast["ports"])
        rec = {
            "ID": 5,
            "AddressInfo": {"Latitude": 43.2, "Longitude": 76.9},
            "NumberOfPoints": 0,
            "Connections": [{"CurrentTypeID": 30, "PowerKW": -50}],
        }
        assert np.isnan(parse_ocm_record(rec)["kw"]) and parse_ocm_record(rec)["ports"] == 1
        nowhere = {"ID": 6, "AddressInfo": {"Latitude": "x", "Longitude": 76.9}}
        table = read_ocm([rec, nowhere], origin="the API", field="candidates.existing_ocm_url")
    assert list(table["source"]) == ["ocm:5"]  # the station with no usable position left out
    text = caplog.text
    assert "osm:node/1: capacity: expected a whole number of ports from 1 to 500, got -4" in text
    assert "osm:node/2: capacity:" in text and "got 1000000000; read as unknown" in text
    assert "osm:node/3: charging_station:output: expected a power in kW" in text
    assert "ocm:5): NumberOfPoints:" in text and "Connections[0].PowerKW:" in text
    assert "ocm:6): AddressInfo.Latitude: expected a latitude" in text and "left out" in text


def test_assumed_figures_are_marked_and_warned(
    small_scenario: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What an existing station does not record is assumed from the scenario (or
    chosen by the plan): sites.csv's ``assumed`` column marks each figure shown that
    was not recorded (nothing for new stations), and the run warns once per figure,
    naming the stations."""
    from siting.kpis import assumed_figures, warn_assumed

    sc = load_scenario(small_scenario)
    sites = pd.DataFrame(
        {
            "site_id": ["E0001", "E0002", "E0003", "C00001"],
            "name": ["full", "bare", "", ""],
            "existing": [True, True, True, False],
            "type_known": ["DC", "", "AC", ""],
            "ports_known": [4.0, np.nan, np.nan, np.nan],
            "kw_known": [120.0, np.nan, 22.0, np.nan],
            "station_type": ["DC", "AC", "AC", "AC"],
            "kw": [120.0, 22.0, 22.0, 22.0],
        }
    )
    sites["assumed"] = assumed_figures(sites)
    assert list(sites["assumed"]) == ["", "station_type;ports;kw", "ports", ""]
    with caplog.at_level("WARNING", logger="siting.kpis"):
        warn_assumed(sites, sc.optimize)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0].startswith(
        "existing stations: 2 of 3 have no ports recorded (E0002 'bare', E0003)"
    )
    assert "2 ports each are assumed (optimize.capacity.ports)" in lines[0]
    assert "1 of 3 have no power per port recorded (E0002 'bare')" in lines[1]
    assert "1 of 3 have no type recorded (E0002 'bare'): the plan chose AC or DC" in lines[2]
    # a type left blank (covering models) is not shown, so not assumed; nor its power
    blank = sites.assign(station_type=["DC", "", "AC", ""], kw=[120.0, np.nan, 22.0, np.nan])
    assert assumed_figures(blank) == ["", "ports", "ports", ""]
