"""Sites are places (issue 31): stable ids, kinds in words, names and addresses, and the
candidate list written with every run."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from siting._geo import NodeIndex
from siting._osm import Features, NamedPlaces, read_features
from siting._place_names import NEAR_M, Places, describe, gather_places, stable_ids
from siting.candidates import build_candidates, load_existing
from siting.errors import DataFileError

OSM = "roads/almaty-osm-2012.osm.pbf"


@pytest.fixture(scope="module")
def area(small_area_file: Path):  # type: ignore[no-untyped-def]
    return gpd.read_file(small_area_file).union_all()


def _subset(feats: Features, keep: np.ndarray) -> Features:
    return Features(*(getattr(feats, f)[keep] for f in Features.__dataclass_fields__))


def test_ids_are_stable_when_other_candidates_come_and_go(
    small_graph: nx.MultiDiGraph, area, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """Remove every 7th OSM feature and add a station: every other candidate keeps its
    id, and an id names the same place in both lists (row numbers, the old ids, moved:
    C00120 was a fuel station in one run and a road node in another)."""
    index = NodeIndex.from_graph(small_graph)
    feats = read_features(data_dir / OSM, field="f")
    existing = load_existing(data_dir / "stations" / "ocm-146017-supercharger.json")
    kw = {"area": area, "grid_spacing_m": 800, "snap_max_m": 300}
    a = build_candidates(index, features=feats, existing=existing, **kw)
    dropped = np.arange(len(feats.kind)) % 7 == 3
    extra = pd.concat(
        [existing, existing.assign(name="New hub", lon=76.9300, lat=43.2450, ref="", source="f")],
        ignore_index=True,
    )
    b = build_candidates(index, features=_subset(feats, ~dropped), existing=extra, **kw)
    assert a["site_id"].is_unique and b["site_id"].is_unique
    gone = zip(feats.element[dropped], feats.osmid[dropped], strict=True)
    removed = {f"osm-{element}-{osmid}" for element, osmid in gone}
    hub = b[b["name"] == "New hub"]
    assert hub["site_id"].tolist() == ["station-43.2450-76.9300"]
    taken = set(a.loc[a["node"].isin(hub["node"]), "site_id"])  # its node: the station's now
    lost = set(a["site_id"]) - set(b["site_id"])
    assert lost and lost <= removed | taken
    assert len(a) - len(lost) > 100  # most candidates are in both lists
    both = a.merge(b, on="site_id", suffixes=("", "_b"))
    assert (both["node"] == both["node_b"]).all() and (both["kind"] == both["kind_b"]).all()
    assert (both["name"] == both["name_b"]).all()
    # the ids users see: OSM references, the station's record, road-grid coordinates
    kinds = a.set_index("site_id")["kind"]
    grid = kinds[kinds == "road_grid"].index
    assert all(s.startswith("grid-43.") for s in grid)
    assert all(s.startswith(("osm-node-", "osm-way-")) for s in kinds.drop(grid).index[1:])


def _plus_graph() -> nx.MultiDiGraph:
    """A four-way junction (node 0) of Abay Avenue (east-west, primary) and Dostyk
    Avenue (north-south, secondary), each arm about 160 m, both ways."""
    G = nx.MultiDiGraph(crs="EPSG:4326")
    x0, y0, d = 76.9, 43.2, 0.0015
    for n, (x, y) in enumerate([(x0, y0), (x0 + 2 * d, y0), (x0 - 2 * d, y0),
                                (x0, y0 + d), (x0, y0 - d)]):  # fmt: skip
        G.add_node(n, x=x, y=y)
    for n, (name, highway) in zip(
        (1, 2, 3, 4),
        [("Abay Avenue", "primary")] * 2 + [("Dostyk Avenue", "secondary")] * 2,
        strict=True,
    ):
        for u, v in ((0, n), (n, 0)):
            G.add_edge(u, v, name=name, highway=highway, length=160.0)
    return G


def test_a_road_grid_site_is_a_junction_near_its_main_street() -> None:
    G = _plus_graph()
    index = NodeIndex.from_graph(G)
    places = gather_places(G, index, None, field="f")
    square = box(76.8993, 43.1995, 76.9007, 43.2005)  # one grid point, on the junction
    cand = build_candidates(
        index, features=None, area=square, grid_spacing_m=100, snap_max_m=300, places=places
    )
    row = cand.iloc[0]
    assert row["node"] == 0 and row["kind"] == "road_grid"
    assert row["kind_label"] == "road junction near Abay Avenue"  # the primary road first
    assert row["address"] == "Abay Avenue / Dostyk Avenue"
    assert row["site_id"] == "grid-43.2000-76.9000" and row["name"] == ""
    # the end of an arm is a dead end, near the street it ends
    arm = pd.DataFrame(
        {"kind": ["road_grid"], "name": [""], "node": [1], "lon": [76.903], "lat": [43.2]}
    )
    assert describe(arm, index, places).iloc[0]["kind_label"] == "dead end near Abay Avenue"
    # without any street near: the kind alone
    far = arm.assign(lon=76.95, node=99)
    got = describe(far, index, places).iloc[0]
    assert got["kind_label"] == "road point" and got["address"] == ""


def test_own_name_and_address_first_else_the_nearest_within_reach() -> None:
    G = _plus_graph()
    index = NodeIndex.from_graph(G)
    places = gather_places(G, index, None, field="f")
    shop = NamedPlaces(
        lon=np.array([76.9010]),
        lat=np.array([43.2010]),
        name=np.array(["Ramstore"], dtype=object),
        address=np.array(["Abay Avenue 5"], dtype=object),
    )
    places = Places(shop, places.street_xy, places.street_name, places.node_streets,
                    places.node_degree)  # fmt: skip
    cand = pd.DataFrame(
        {
            "kind": ["parking", "fuel", "park"],
            "name": ["Own lot", "", ""],
            "address": ["Dostyk Avenue 1", "", ""],
            "node": [0, 0, 0],
            # at the shop; 40 m from it; 1 km away (no place, street or address in reach)
            "lon": [76.9010, 76.9014, 76.9100],
            "lat": [43.2010, 43.2011, 43.2100],
        }
    )
    got = describe(cand, index, places)
    assert got.loc[0].tolist() == ["parking", "Own lot", "Dostyk Avenue 1"]
    assert got.loc[1].tolist() == ["fuel station", "near Ramstore", "near Abay Avenue 5"]
    assert got.loc[2].tolist() == ["park", "", ""]
    assert NEAR_M == 150.0


def test_ids_are_unique_even_where_coordinates_meet() -> None:
    cand = pd.DataFrame(
        {
            "existing": [True, True, True, False, False, False],
            "kind": ["existing_station"] * 3 + ["road_grid", "road_grid", "fuel"],
            "osmid": [-1, -1, -1, -1, -1, 42],
            "element": ["", "", "", "", "", "way"],
            "ref": ["ocm-1", "", "", "", "", ""],
            # two stations without a record 2 m apart; two road nodes 3 m apart
            "lat": [43.2, 43.25, 43.25002, 43.21, 43.21003, 43.3],
            "lon": [76.9, 76.93, 76.93, 76.91, 76.91, 76.95],
        }
    )
    ids = stable_ids(cand)
    assert ids == [
        "ocm-1",
        "station-43.250000-76.930000",
        "station-43.250020-76.930000",
        "grid-43.210000-76.910000",
        "grid-43.210030-76.910000",
        "osm-way-42",
    ]
    same = pd.concat([cand.iloc[[1]]] * 2, ignore_index=True)  # one place twice
    assert stable_ids(same) == ["station-43.250000-76.930000", "station-43.250000-76.930000-2"]


def test_a_station_file_gives_its_own_ids_and_addresses(tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text(
        "id,name,lat,lon,station_type,address\n"
        "A-1,Dostyk,43.24,76.93,DC,Dostyk Ave 10\n7,Abay,43.25,76.92,AC,\n"
    )
    df = load_existing(path)
    assert df["ref"].tolist() == ["A-1", "7"] and df["address"].tolist() == ["Dostyk Ave 10", ""]
    path.write_text("id,lat,lon,station_type\nA-1,43.24,76.93,DC\nA-1,43.25,76.92,AC\n")
    with pytest.raises(
        DataFileError, match=r"id: expected one station per id, got 'A-1' in rows 1, 2"
    ):
        load_existing(path)


def test_every_run_writes_its_candidates_and_sites_say_where_they_are(small_run) -> None:  # type: ignore[no-untyped-def]
    result, out = small_run
    layer = gpd.read_file(out / "candidates.geojson")
    assert len(layer) == len(result.candidates) and layer["site_id"].is_unique
    assert {"site_id", "kind", "kind_label", "name", "address", "existing", "in_plan"} <= set(
        layer.columns
    )
    sites = pd.read_csv(out / "sites.csv", keep_default_na=False)
    assert set(sites["site_id"]) == set(layer.loc[layer["in_plan"], "site_id"])
    assert int(layer["existing"].sum()) == 1
    assert layer.loc[layer["existing"], "site_id"].tolist() == ["ocm-146017"]
    assert layer.loc[layer["existing"], "address"].tolist() == ["Al-Farabi Avenue 77/8"]
    grid = sites[sites["kind"] == "road_grid"]
    assert grid["kind_label"].str.match(r"^(road junction|dead end|road point)( near .+)?$").all()
    assert (sites["kind_label"] != "").all()
    assert (layer["district"] != "").mean() > 0.9  # central Almaty: all but the edge
    assert set(sites["district"]) - {""} <= {"Almaly", "Bostandyq", "Auezov", "Medeu", "Zhetysu"}
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["stations"] == len(sites)
