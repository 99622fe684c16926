"""Road network stage: offline OSM file → OSMnx graph with travel times."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point, box

from siting import network
from siting._osm import write_drive_xml
from siting.errors import DataFileError, InputError, MissingFileError
from siting.network import NetworkSource, build_network, graph_from_file

TINY_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" version="1" lat="43.2000" lon="76.9000"/>
  <node id="2" version="1" lat="43.2000" lon="76.9010"/>
  <node id="3" version="1" lat="43.2000" lon="76.9020"/>
  <node id="5" version="1" lat="43.2000" lon="76.9040"/>
  <node id="6" version="1" lat="43.2000" lon="76.9050"/>
  <node id="7" version="1" lat="43.2010" lon="76.9000"/>
  <way id="100" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="residential"/>
  </way>
  <way id="101" version="1">
    <nd ref="1"/><nd ref="7"/><tag k="highway" v="footway"/>
  </way>
  <way id="102" version="1">
    <nd ref="9"/><nd ref="7"/><tag k="highway" v="primary"/>
  </way>
  <way id="103" version="1">
    <nd ref="1"/><nd ref="7"/><tag k="highway" v="service"/><tag k="service" v="driveway"/>
  </way>
</osm>
"""


def test_missing_node_refs_are_repaired_by_splitting(tmp_path: Path) -> None:
    src = tmp_path / "tiny.osm"
    src.write_text(TINY_OSM)
    info = write_drive_xml(src, tmp_path / "out.osm", field="f")
    # way 100 splits at missing node 4 into [1,2,3] and [5,6]; way 102 has one node left: dropped;
    # footway and driveway are not drivable
    assert info.missing_refs == 2
    assert info.pieces_added == 1
    assert info.ways_dropped == 1
    assert info.ways == 2
    G = graph_from_file(src)
    assert all("x" in d and "y" in d for _, d in G.nodes(data=True))
    assert {d["osmid"] for *_, d in G.edges(data=True)} == {100, -1}


def test_small_graph_is_strongly_connected_with_travel_times(small_graph: nx.MultiDiGraph) -> None:
    G = small_graph
    assert len(G) > 300
    assert nx.is_strongly_connected(G)
    tt = np.array([d["travel_time"] for *_, d in G.edges(data=True)])
    speed = np.array([d["speed_kph"] for *_, d in G.edges(data=True)])
    length = np.array([d["length"] for *_, d in G.edges(data=True)])
    assert np.all(tt > 0)
    assert np.allclose(tt, length / (speed / 3.6), rtol=1e-3)
    assert G.graph["crs"] == "epsg:4326"


def test_graph_is_clipped_to_the_buffered_area(
    small_graph: nx.MultiDiGraph, small_area_file: Path
) -> None:
    area = gpd.read_file(small_area_file).union_all()
    clip = network.buffered(area, 300).buffer(1e-9)
    outside = [
        n for n, d in small_graph.nodes(data=True) if not clip.contains(Point(d["x"], d["y"]))
    ]
    # truncate_by_edge keeps a node just outside when a neighbour lies inside
    for n in outside:
        nbrs = set(small_graph.successors(n)) | set(small_graph.predecessors(n))
        assert any(
            clip.contains(Point(small_graph.nodes[m]["x"], small_graph.nodes[m]["y"])) for m in nbrs
        )


def test_cache_is_used_and_a_corrupt_cache_is_rebuilt(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    area = box(76.93, 43.235, 76.95, 43.25)
    src = NetworkSource(osm_file=data_dir / "roads" / "almaty-osm-2012.osm.pbf")
    G1 = build_network(src, area, buffer_m=0, cache_dir=tmp_path)
    files = list((tmp_path / "graph").glob("graph-*.pkl"))
    assert len(files) == 1

    def boom(_path: Path, **_kw: object) -> nx.MultiDiGraph:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(network, "graph_from_file", boom)
    G2 = build_network(src, area, buffer_m=0, cache_dir=tmp_path)
    assert sorted(G1.nodes) == sorted(G2.nodes)
    monkeypatch.undo()

    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="unreadable"):
        G3 = build_network(src, area, buffer_m=0, cache_dir=tmp_path)
    assert sorted(G3.nodes) == sorted(G1.nodes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_network(src, area, buffer_m=0, cache_dir=tmp_path)  # healthy again


def test_bad_osm_inputs_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="not found"):
        graph_from_file(tmp_path / "nope.osm.pbf")
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"this is not a pbf file")
    with pytest.raises(DataFileError, match="cannot read OSM file"):
        graph_from_file(bad)
    txt = tmp_path / "roads.txt"
    txt.write_text("x")
    with pytest.raises(DataFileError, match="not an OSM file"):
        graph_from_file(txt)


def test_boundary_without_roads_is_an_input_error(data_dir: Path, tmp_path: Path) -> None:
    far = box(10.0, 10.0, 10.01, 10.01)
    with pytest.raises(InputError, match="contains no roads"):
        build_network(
            NetworkSource(osm_file=data_dir / "roads" / "almaty-osm-2012.osm.pbf"),
            far,
            buffer_m=0,
            cache=False,
        )


GRAPH_DIGEST = """
import hashlib, sys
from pathlib import Path
from shapely.geometry import box
from siting.network import NetworkSource, build_network
G = build_network(NetworkSource(osm_file=Path(sys.argv[1])), box(76.90, 43.22, 76.96, 43.26),
                  buffer_m=0, cache=False)
rows = sorted((u, v, k, round(d["travel_time"], 9)) for u, v, k, d in G.edges(keys=True, data=True))
print(hashlib.sha256(repr(rows).encode()).hexdigest())
"""


def test_graph_does_not_depend_on_the_hash_seed(data_dir: Path) -> None:
    import os
    import subprocess
    import sys

    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                GRAPH_DIGEST,
                str(data_dir / "roads" / "almaty-osm-2012.osm.pbf"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(proc.stdout.strip())
    assert len(digests) == 1
