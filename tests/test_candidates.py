"""Candidate sites: OSM features, road grid and existing stations."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest

from siting._errors import DataFileError, InputError
from siting._geo import NodeIndex
from siting._osm import read_features
from siting.candidates import build_candidates, load_existing


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
    assert cand.iloc[0]["existing"] and cand.iloc[0]["site_id"] == "E0001"
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
    csv.write_text("name,Latitude,Longitude,ports\nA,43.25,76.93,2\nB,43.24,76.92,\n")
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
                        "properties": {"name": "X"},
                        "geometry": {"type": "Point", "coordinates": [76.93, 43.25]},
                    }
                ],
            }
        )
    )
    assert load_existing(gj)["lon"].iloc[0] == pytest.approx(76.93)
    empty = tmp_path / "empty.csv"
    empty.write_text("name,lat,lon\n")
    with pytest.raises(DataFileError, match="lists no stations"):
        load_existing(empty)
    nolat = tmp_path / "nolat.csv"
    nolat.write_text("name,x1,y1\nA,1,2\n")
    with pytest.raises(DataFileError, match="needs 'lat' and 'lon'"):
        load_existing(nolat)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,lat,lon\nA,143.0,76.9\n")
    with pytest.raises(DataFileError, match="invalid coordinates"):
        load_existing(bad)


def test_existing_station_outside_city_is_an_error(small_graph: nx.MultiDiGraph, area) -> None:  # type: ignore[no-untyped-def]
    index = NodeIndex.from_graph(small_graph)
    far = pd.DataFrame({"name": ["Astana"], "lon": [71.43], "lat": [51.13], "ports": [2]})
    with pytest.raises(InputError, match="outside the city boundary"):
        build_candidates(
            index, features=None, area=area, grid_spacing_m=800, snap_max_m=300, existing=far
        )
