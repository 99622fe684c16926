"""The online OSMnx path, against a local fake Overpass/Nominatim on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
from shapely.geometry import Point, box

from siting.cli import main
from siting.errors import NetworkError
from siting.network import NetworkSource, OnlineOptions, build_network
from tests.fake_osm_server import FakeOSM

AREA = box(76.90, 43.22, 76.95, 43.255)


@pytest.fixture(scope="module")
def pbf(data_dir: Path) -> Path:
    return data_dir / "roads" / "almaty-osm-2012.osm.pbf"


def online_scenario(tmp_path: Path, data_dir: Path, url: str, *, timeout_s: float = 10) -> Path:
    text = f"""
name = "online"
data_dir = "{data_dir}"
[network]
source = "place"
place = "Test area"
buffer_m = 0
overpass_url = "{url}/api"
nominatim_url = "{url}/"
timeout_s = {timeout_s}
[demand]
population = "{{data_dir}}/population/residents-500m-proxy.geojson"
population_column = "population_estimate_final"
districts = "{{data_dir}}/boundaries/districts.geojson"
jobs = "{{data_dir}}/population/jobs-h3r9.geojson"
jobs_column = "emp"
[demand.residents]
count = 615000
public_share = 0.5
sessions_per_ev_day = 0.3
kwh_per_session = 25
[demand.inbound]
count = 400000
public_share = 0.3
sessions_per_ev_day = 0.5
kwh_per_session = 20
[candidates]
grid_spacing_m = 800
[travel]
cutoff_min = 20
[optimize]
p = 5
threshold_min = 3
"""
    path = tmp_path / "online.toml"
    path.write_text(text)
    return path


def test_place_source_runs_end_to_end(
    tmp_path: Path, data_dir: Path, pbf: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))  # no answers from earlier runs
    with FakeOSM(pbf, AREA) as srv:
        scenario = online_scenario(tmp_path, data_dir, srv.url)
        out = tmp_path / "out"
        code = main(["run", str(scenario), "--out", str(out), "-q"])
        assert code == 0, capsys.readouterr().err
    assert any(r.startswith("/search") for r in srv.requests)
    assert any(r.startswith("/api/interpreter") for r in srv.requests)
    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == 5
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["network"]["nodes"] > 200
    # every station lies inside the geocoded place polygon
    pts = gpd.points_from_xy(sites["lon"], sites["lat"])
    assert all(AREA.buffer(1e-9).contains(p) for p in pts)


def test_online_graph_matches_offline_graph(tmp_path: Path, pbf: Path) -> None:
    with FakeOSM(pbf, AREA) as srv:
        online = build_network(
            NetworkSource(polygon=AREA),
            AREA,
            buffer_m=0,
            cache_dir=tmp_path,
            online=OnlineOptions(f"{srv.url}/api", f"{srv.url}/", 10),
        )
    offline = build_network(NetworkSource(osm_file=pbf), AREA, buffer_m=0, cache=False)
    # OSMnx simplifies the online graph over its own buffered polygon, so nodes at the edge
    # may differ; 300 m inside it the two graphs must be the same, with the same route times
    inner = AREA.buffer(-0.004)

    def interior(G: nx.MultiDiGraph) -> set[int]:
        return {n for n, d in G.nodes(data=True) if inner.contains(Point(d["x"], d["y"]))}

    a, b = interior(online), interior(offline)
    assert len(a) > 200 and a == b
    pairs = sorted(a)[:40]
    for s, t in zip(pairs[:20], pairs[20:], strict=True):
        t_on = nx.shortest_path_length(online, s, t, weight="travel_time")
        t_off = nx.shortest_path_length(offline, s, t, weight="travel_time")
        assert t_on == pytest.approx(t_off, rel=1e-9)


@pytest.mark.parametrize(
    ("mode", "pattern"),
    [
        ("http500", r"500|Internal Server Error"),
        ("slow", r"(?i)timed? ?out|Timeout"),
        ("empty", r"(?i)no data|Nominatim|empty|found"),
    ],
)
def test_download_failures_suggest_offline_file(
    tmp_path: Path, pbf: Path, mode: str, pattern: str
) -> None:
    with FakeOSM(pbf, AREA, mode=mode, slow_s=3.0) as srv:
        opts = OnlineOptions(f"{srv.url}/api", f"{srv.url}/", timeout_s=1.0)
        with pytest.raises(NetworkError, match=pattern) as info:
            build_network(
                NetworkSource(polygon=AREA), AREA, buffer_m=0, cache_dir=tmp_path, online=opts
            )
    assert "network.source = 'file'" in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_cli_reports_download_failure_in_one_line(
    tmp_path: Path, data_dir: Path, pbf: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    with FakeOSM(pbf, AREA, mode="http500") as srv:
        scenario = online_scenario(tmp_path, data_dir, srv.url, timeout_s=2)
        code = main(["run", str(scenario), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "offline" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


#: Two tagged stations inside AREA (one with DC sockets and their power, one with a
#: capacity only) and one outside it.
OSM_STATIONS = [
    {
        "id": 901,
        "lat": 43.2381,
        "lon": 76.9205,
        "tags": {
            "amenity": "charging_station",
            "name": "Forum DC",
            "socket:type2_combo": "2",
            "socket:type2_combo:output": "50 kW",
        },
    },
    {
        "id": 902,
        "lat": 43.2302,
        "lon": 76.9402,
        "tags": {"amenity": "charging_station", "capacity": "4"},
    },
    {"id": 903, "lat": 43.30, "lon": 77.10, "tags": {"amenity": "charging_station"}},
]

#: Open Charge Map records: a 4-point 120 kW DC site inside AREA, one outside it.
OCM_RECORDS = [
    {
        "ID": 146017,
        "AddressInfo": {"Title": "Supercharger", "Latitude": 43.2455, "Longitude": 76.9301},
        "NumberOfPoints": 4,
        "Connections": [{"CurrentTypeID": 30, "LevelID": 3, "PowerKW": 120, "Quantity": 4}],
    },
    {
        "ID": 5,
        "AddressInfo": {"Title": "Far away", "Latitude": 43.40, "Longitude": 77.20},
        "Connections": [{"CurrentTypeID": 10, "PowerKW": 22}],
    },
]


def test_online_run_keeps_stations_from_overpass_and_open_charge_map(
    tmp_path: Path, data_dir: Path, pbf: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    with FakeOSM(pbf, AREA, stations=OSM_STATIONS, ocm=OCM_RECORDS) as srv:
        scenario = online_scenario(tmp_path, data_dir, srv.url)
        text = scenario.read_text().replace(
            "[candidates]\n", f'[candidates]\nexisting_ocm_url = "{srv.url}/v3/poi"\n'
        )
        scenario.write_text(text)
        out = tmp_path / "out"
        code = main(["run", str(scenario), "--out", str(out), "-q"])
        assert code == 0, capsys.readouterr().err
    assert any(r.startswith("/v3/poi") for r in srv.requests)
    sites = pd.read_csv(out / "sites.csv", dtype={"source": str})
    existing = sites[sites["status"] == "existing"].set_index("source")
    # the two OSM stations inside the area and the OCM one; none from outside it
    assert sorted(existing.index) == ["ocm:146017", "osm:node/901", "osm:node/902"]
    assert existing.loc["osm:node/901", "station_type"] == "DC"
    assert existing.loc["osm:node/901", "kw"] == 50
    assert existing.loc["osm:node/902", "ports"] == 4
    assert existing.loc["ocm:146017", "station_type"] == "DC"
    assert existing.loc["ocm:146017", "kw"] == 120 and existing.loc["ocm:146017", "ports"] == 4
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["stations_existing"] == 3


def test_open_charge_map_failure_is_one_line(pbf: Path) -> None:
    from siting.existing import fetch_ocm

    with (
        FakeOSM(pbf, AREA, mode="http500") as srv,
        pytest.raises(NetworkError, match="Open Charge Map") as info,
    ):
        fetch_ocm(f"{srv.url}/v3/poi", AREA.bounds, timeout_s=2)
    assert "candidates.existing" in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_stations_from_downloaded_features(tmp_path: Path, pbf: Path) -> None:
    from siting.existing import stations_from_features
    from siting.network import download_features

    with FakeOSM(pbf, AREA, stations=OSM_STATIONS) as srv:
        opts = OnlineOptions(f"{srv.url}/api", f"{srv.url}/", timeout_s=5)
        found = download_features(
            AREA, {"amenity": "charging_station"}, what="stations", online=opts, cache_dir=tmp_path
        )
    assert any("charging_station" in q for q in srv.queries)
    table = stations_from_features(found).set_index("source")
    assert sorted(table.index) == ["osm:node/901", "osm:node/902"]
    assert table.loc["osm:node/901", "station_type"] == "DC"
    assert table.loc["osm:node/902", "station_type"] == ""  # no sockets: type unknown
    with FakeOSM(pbf, AREA, mode="empty") as srv:
        opts = OnlineOptions(f"{srv.url}/api", f"{srv.url}/", timeout_s=5)
        none = download_features(
            AREA,
            {"amenity": "charging_station"},
            what="stations",
            online=opts,
            cache_dir=tmp_path / "empty",  # not the cached answer of the first server
        )
    assert stations_from_features(none).empty
