"""Travel times: the compiled sparse matrix agrees with networkx, pair by pair."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from siting._geo import NodeIndex
from siting.travel import graph_matrix, row_minimum, travel_times


@pytest.fixture(scope="module")
def setup(small_graph: nx.MultiDiGraph):  # type: ignore[no-untyped-def]
    index = NodeIndex.from_graph(small_graph)
    gm = graph_matrix(small_graph, index)
    rng = np.random.default_rng(7)
    d = rng.choice(len(index.ids), 40, replace=False)
    s = rng.choice(len(index.ids), 25, replace=False)
    # demand points 50 m east of nodes (connector > 0); sites exactly on nodes
    dlon = index.lon[d] + 50 / (111_320 * np.cos(np.radians(index.lat[d])))
    return index, gm, d, s, (dlon, index.lat[d]), (index.lon[s], index.lat[s])


@pytest.mark.parametrize("cutoff_min", [4, 60])
def test_matrix_matches_networkx_dijkstra(
    small_graph: nx.MultiDiGraph, setup, cutoff_min: float
) -> None:  # type: ignore[no-untyped-def]
    index, gm, d, s, dll, sll = setup
    cutoff = cutoff_min * 60.0
    tt = travel_times(
        gm, index, demand_lonlat=dll, site_lonlat=sll, cutoff_s=cutoff, connector_speed_kph=15.0
    )
    dense = tt.matrix.toarray()
    stored = np.zeros_like(dense, dtype=bool)
    stored[np.repeat(np.arange(tt.shape[0]), np.diff(tt.matrix.indptr)), tt.matrix.indices] = True
    for a in range(len(d)):
        dist = nx.single_source_dijkstra_path_length(
            small_graph, index.ids[tt.demand_pos[a]], weight="travel_time"
        )
        for b in range(len(s)):
            net = dist.get(index.ids[tt.site_pos[b]], np.inf)
            want = tt.demand_conn_s[a] + net + tt.site_conn_s[b]
            if want <= cutoff:
                assert stored[a, b]
                assert dense[a, b] == pytest.approx(want, rel=1e-9, abs=1e-6)
            else:
                assert not stored[a, b]
    assert tt.demand_conn_s.min() > 0  # the 50 m offsets cost connector time


def test_nearest_beyond_cutoff(setup) -> None:  # type: ignore[no-untyped-def]
    index, gm, _, _, dll, sll = setup
    short = travel_times(gm, index, demand_lonlat=dll, site_lonlat=sll, cutoff_s=60.0)
    full = travel_times(gm, index, demand_lonlat=dll, site_lonlat=sll, cutoff_s=1e9)
    chosen = np.array([0, 3, 7])
    t_short, _ = short.nearest(chosen)
    t_full, arg_full = full.nearest(chosen)
    assert np.all(np.isfinite(t_full))
    # sites sit on nodes (zero connector), so the network-nearest site is the nearest
    np.testing.assert_allclose(t_short, t_full, rtol=1e-9)
    assert set(arg_full) <= set(chosen)


def test_row_minimum_keeps_explicit_zeros() -> None:
    import scipy.sparse as sp

    m = sp.csr_array(
        (np.array([5.0, 0.0, 2.0, 7.0]), np.array([0, 2, 1, 2]), np.array([0, 2, 2, 4])),
        shape=(3, 3),
    )
    rows, cols, vals = row_minimum(m)
    assert rows.tolist() == [0, 2] and cols.tolist() == [2, 1] and vals.tolist() == [0.0, 2.0]


@pytest.mark.parametrize("cutoff_min", [3, 60])
def test_between_sites_matches_networkx(small_graph: nx.MultiDiGraph, setup, cutoff_min) -> None:  # type: ignore[no-untyped-def]
    index, gm, _, s, dll, _ = setup
    # sites 40 m north of nodes, so connectors count at both ends
    slat = index.lat[s] + 40 / 111_320
    tt = travel_times(
        gm, index, demand_lonlat=dll, site_lonlat=(index.lon[s], slat), cutoff_s=cutoff_min * 60.0
    )
    chosen = np.arange(0, len(s), 2)
    pos, secs = tt.between_sites(chosen, k=3)
    assert tt.site_conn_s.min() > 0
    for a, j in enumerate(chosen):
        dist = nx.single_source_dijkstra_path_length(
            small_graph, index.ids[tt.site_pos[j]], weight="travel_time"
        )
        want = sorted(
            (tt.site_conn_s[j] + dist.get(index.ids[tt.site_pos[k]], np.inf) + tt.site_conn_s[k], b)
            for b, k in enumerate(chosen)
            if b != a
        )
        want = [(t, b) for t, b in want if t <= tt.cutoff_s][:3]
        got = [(t, b) for t, b in zip(secs[a], pos[a], strict=True) if b >= 0]
        assert len(got) == len(want)
        np.testing.assert_allclose([t for t, _ in got], [t for t, _ in want], rtol=1e-9)
        assert all(b != a for _, b in got)
    if cutoff_min == 3:
        assert (pos == -1).any()  # some sites have fewer than 3 others within 3 minutes


def test_batches_and_threads_do_not_change_the_matrix(
    setup, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Many points on one node, tiny batches, one or three threads: the same matrix."""
    import siting.travel as travel

    index, gm, _, s, dll, sll = setup
    dlon = np.concatenate([dll[0], np.repeat(dll[0][:3], 5)])  # 15 points on 3 nodes
    dlat = np.concatenate([dll[1], np.repeat(dll[1][:3], 5)])
    kw = dict(demand_lonlat=(dlon, dlat), site_lonlat=sll, cutoff_s=600.0)
    ref = travel_times(gm, index, threads=1, **kw).matrix  # type: ignore[arg-type]
    monkeypatch.setattr(travel, "_BATCH_BYTES", 8 * len(s) * 4)  # four rows per batch
    for threads in (1, 3):
        got = travel_times(gm, index, threads=threads, **kw).matrix  # type: ignore[arg-type]
        assert (got.indptr == ref.indptr).all() and (got.indices == ref.indices).all()
        assert (got.data == ref.data).all()
    # and the reverse direction (more distinct demand nodes than site nodes)
    few = (sll[0][:2], sll[1][:2])
    rev = travel_times(gm, index, demand_lonlat=(dlon, dlat), site_lonlat=few, cutoff_s=600.0)
    assert (rev.matrix.toarray() == ref.toarray()[:, :2]).all()
