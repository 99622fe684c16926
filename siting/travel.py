"""Stage 4 — drive times from demand points to candidate sites.

The graph becomes a compressed sparse row matrix once (parallel edges keep
their fastest ``travel_time``); shortest paths come from a compiled Dijkstra
(:mod:`siting._dijkstra`) that searches from each source up to the cutoff, writes
only the target columns and runs blocks of sources on all CPUs, so only the pairs
within the cutoff are ever stored.

A trip from demand point *i* to site *j* costs

.. math:: t_{ij} = c_i + d(n_i, n_j) + c_j

where :math:`d` is the network time between their road nodes and
:math:`c_i, c_j` the straight-line connector times from each point to its node.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from siting import _cache, settings
from siting._geo import NodeIndex
from siting._io import array_digest, hash_key
from siting.cells import Layers, demand_points

if TYPE_CHECKING:
    from siting.network import RoadNetwork
    from siting.scenario import Scenario

log = logging.getLogger(__name__)

#: Bytes of dense Dijkstra output allowed per batch.
_BATCH_BYTES = 64 * 1024 * 1024

#: Bump when the cached travel times change in content or layout.
_CACHE_FORMAT = 1


def graph_matrix(
    G: nx.MultiDiGraph, index: NodeIndex, *, weight: str = "travel_time"
) -> sp.csr_array:
    """The graph as an (n, n) CSR matrix of edge ``weight`` in the order of ``index``."""
    u, v, w = [], [], []
    for a, b, d in G.edges(data=True):
        u.append(a)
        v.append(b)
        w.append(d[weight])
    rows = index.position(np.asarray(u, dtype=np.int64))
    cols = index.position(np.asarray(v, dtype=np.int64))
    wt = np.asarray(w, dtype=float)
    n = len(index.ids)
    key = rows * n + cols
    order = np.lexsort((wt, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    # csgraph treats explicit zeros as missing edges; a zero-time edge gets a tiny cost
    data = np.maximum(wt[keep], 1e-6)
    return sp.csr_array((data, (rows[keep], cols[keep])), shape=(n, n))


@dataclass
class TravelTimes:
    """Sparse demand × candidate drive times (seconds) within a cutoff.

    Attributes
    ----------
    matrix
        CSR array, shape (n_demand, n_candidates); stored entries are the pairs
        within ``cutoff_s`` (a stored zero is a real zero-second trip).
    cutoff_s
        The cutoff used to build ``matrix``.
    """

    matrix: sp.csr_array
    cutoff_s: float
    demand_pos: np.ndarray
    demand_conn_s: np.ndarray
    site_pos: np.ndarray
    site_conn_s: np.ndarray
    graph: sp.csr_array

    @property
    def shape(self) -> tuple[int, int]:
        """(n_demand, n_candidates)."""
        return self.matrix.shape

    def neighbours(self, threshold_s: float) -> sp.csr_array:
        """Boolean CSR of the pairs within ``threshold_s``."""
        m = self.matrix
        keep = m.data <= threshold_s
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[keep]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m.shape[0]))])
        return sp.csr_array(
            (np.ones(len(rows), dtype=bool), m.indices[keep], indptr), shape=m.shape
        )

    def nearest(self, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Time to the nearest of ``sites`` (candidate indices) for every demand point.

        Within the cutoff this is the exact minimum of :math:`t_{ij}`. Points with
        no chosen site within it get a multi-source Dijkstra over the whole graph
        (the site is the nearest by network time; its connector is then added).
        Returns (seconds, site index); unreachable points get ``inf`` and ``-1``.
        """
        sites = np.asarray(sites, dtype=np.int64)
        n_d = self.shape[0]
        best = np.full(n_d, np.inf)
        arg = np.full(n_d, -1, dtype=np.int64)
        if len(sites) == 0:
            return best, arg
        rows, cols, vals = row_minimum(self.matrix[:, sites].tocsr())
        best[rows] = vals
        arg[rows] = sites[cols]
        far = np.flatnonzero(~np.isfinite(best))
        if len(far):
            # from the sites along reversed edges; connector of the reached site added after
            dist, _, src = dijkstra(
                self.graph.T, indices=self.site_pos[sites], min_only=True, return_predecessors=True
            )
            node_to_site = {
                int(p): int(s) for s, p in zip(sites[::-1], self.site_pos[sites][::-1], strict=True)
            }
            for i in far:
                node = self.demand_pos[i]
                if np.isfinite(dist[node]):
                    s = node_to_site[int(src[node])]
                    best[i] = self.demand_conn_s[i] + dist[node] + self.site_conn_s[s]
                    arg[i] = s
        return best, arg

    def demand_rows(self, rows: np.ndarray) -> TravelTimes:
        """The same times for a subset of the demand points (in the order of ``rows``)."""
        rows = np.asarray(rows, dtype=np.int64)
        return TravelTimes(
            sp.csr_array(self.matrix[rows]),
            self.cutoff_s,
            self.demand_pos[rows],
            self.demand_conn_s[rows],
            self.site_pos,
            self.site_conn_s,
            self.graph,
        )

    def between_sites(self, sites: np.ndarray, *, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other sites of each of ``sites`` by drive time.

        Drive times run from each site along the road graph (connectors at both
        ends included), up to ``cutoff_s``; the searches run in batches so that
        memory stays at a batch × sites array.

        Returns
        -------
        (positions, seconds)
            Arrays of shape (len(sites), k): positions in ``sites`` (-1 where
            fewer than ``k`` sites are within the cutoff) and their times
            (``inf`` there).
        """
        sites = np.asarray(sites, dtype=np.int64)
        n = len(sites)
        pos = np.full((n, k), -1, dtype=np.int64)
        secs = np.full((n, k), np.inf)
        if n < 2 or k < 1:
            return pos, secs
        nodes = self.site_pos[sites]
        conn = self.site_conn_s[sites]
        kk = min(k, n - 1)
        uniq, inverse = np.unique(nodes, return_inverse=True)
        batch = max(1, _BATCH_BYTES // (8 * n))
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            dist = _kernel()(self.graph, nodes[start:stop], uniq, self.cutoff_s)
            t = dist[:, inverse] + conn[start:stop, None] + conn[None, :]
            t[np.arange(stop - start), np.arange(start, stop)] = np.inf  # not itself
            t[t > self.cutoff_s] = np.inf
            order = np.argsort(t, axis=1, kind="stable")[:, :kk]
            best = np.take_along_axis(t, order, axis=1)
            pos[start:stop, :kk] = np.where(np.isfinite(best), order, -1)
            secs[start:stop, :kk] = best
        return pos, secs


def travel_stage(
    sc: Scenario,
    net: RoadNetwork,
    layers: Layers,
    candidates: pd.DataFrame,
    *,
    cache_root: Path,
) -> TravelTimes:
    """Stage 4 of ``sc``: drive times from every cell's demand point to every
    candidate, within ``travel.cutoff_min``, from the cache when unchanged."""
    _, cells, parts, metric_crs, *_ = layers
    points = demand_points(cells, parts, metric_crs)  # every cell
    site_lonlat = (candidates["lon"].to_numpy(), candidates["lat"].to_numpy())
    site_nodes = candidates["node"].to_numpy()

    key = hash_key(
        "travel",
        _CACHE_FORMAT,
        net.graph.graph.get("siting_key"),
        [array_digest(a) for a in points],
        [array_digest(a) for a in site_lonlat],
        array_digest(site_nodes.astype(np.int64)),
        sc.travel.cutoff_min,
        sc.travel.connector_speed_kph,
    )
    use_cache = sc.network.cache
    tt = _cache.load(cache_root, "travel", key) if use_cache else None
    if not isinstance(tt, TravelTimes):
        tt = travel_times(
            graph_matrix(net.graph, net.index),
            net.index,
            demand_lonlat=points,
            site_lonlat=site_lonlat,
            site_nodes=site_nodes,
            cutoff_s=sc.travel.cutoff_min * 60.0,
            connector_speed_kph=sc.travel.connector_speed_kph,
        )
        if use_cache:
            _cache.save(cache_root, "travel", key, tt)
    return tt


def travel_times(
    graph: sp.csr_array,
    index: NodeIndex,
    *,
    demand_lonlat: tuple[np.ndarray, np.ndarray],
    site_lonlat: tuple[np.ndarray, np.ndarray],
    site_nodes: np.ndarray | None = None,
    cutoff_s: float,
    connector_speed_kph: float = settings.CONNECTOR_SPEED_KPH,
    threads: int | None = None,
) -> TravelTimes:
    """Sparse drive times from demand points to sites, within ``cutoff_s``.

    Parameters
    ----------
    graph
        Output of :func:`graph_matrix`.
    index
        The node index the matrix was built with.
    demand_lonlat, site_lonlat
        WGS84 coordinates of demand points and sites.
    site_nodes
        Road node of each site, if already known (else snapped here).
    cutoff_s
        Largest time stored.
    connector_speed_kph
        Speed on the straight line from a point to its road node.
    threads
        Threads for the shortest-path searches (default: the CPUs available);
        the result does not depend on it.
    """
    mps = connector_speed_kph / 3.6
    d_pos, d_dist = index.snap(*demand_lonlat)
    if site_nodes is None:
        s_pos, s_dist = index.snap(*site_lonlat)
    else:
        s_pos = index.position(np.asarray(site_nodes, dtype=np.int64))
        site_xy = index.to_metric(*site_lonlat)
        s_dist = np.hypot(*(site_xy - index.xy[s_pos]).T)
    d_conn = d_dist / mps
    s_conn = s_dist / mps

    forward = len(np.unique(d_pos)) <= len(np.unique(s_pos))
    if forward:
        rows, cols, vals = _pairs(graph, d_pos, d_conn, s_pos, s_conn, cutoff_s, threads)
    else:  # search from the sites, on the reversed graph
        cols, rows, vals = _pairs(graph.T.tocsr(), s_pos, s_conn, d_pos, d_conn, cutoff_s, threads)
    shape = (len(d_pos), len(s_pos))
    # COO to CSR is a counting sort by row (no pair appears twice); then sort each row
    idx = np.int32 if max(shape) < 2**31 - 1 else np.int64
    matrix = sp.coo_array((vals, (rows.astype(idx), cols.astype(idx))), shape=shape).tocsr()
    matrix.sort_indices()
    log.info(
        "travel: %d × %d pairs, %d within %.0f min (%.1f%%)",
        shape[0],
        shape[1],
        len(vals),
        cutoff_s / 60,
        100.0 * len(vals) / max(1, shape[0] * shape[1]),
    )
    return TravelTimes(matrix, cutoff_s, d_pos, d_conn, s_pos, s_conn, graph)


def _pairs(
    g: sp.csr_array,
    src_pos: np.ndarray,
    src_conn: np.ndarray,
    dst_pos: np.ndarray,
    dst_conn: np.ndarray,
    cutoff_s: float,
    threads: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source point, destination point, seconds) of every pair within ``cutoff_s``.

    One search per distinct source node, in batches whose rows (points ×
    destinations) fit :data:`_BATCH_BYTES`; connector times added at both ends.
    """
    uniq, inverse = np.unique(src_pos, return_inverse=True)
    dst_uniq, dst_inverse = np.unique(dst_pos, return_inverse=True)
    by_node = np.argsort(inverse, kind="stable")
    ends = np.cumsum(np.bincount(inverse, minlength=len(uniq)))
    rows_per_batch = max(1, _BATCH_BYTES // (8 * max(len(dst_pos), 1)))
    rows_l, cols_l, vals_l = [], [], []
    start = 0
    while start < len(uniq):
        first = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, first + rows_per_batch, side="right")))
        dist = _kernel()(g, uniq[start:stop], dst_uniq, cutoff_s, threads=threads)
        members = by_node[first : ends[stop - 1]]  # the source points at these nodes
        t = dist[np.ix_(inverse[members] - start, dst_inverse)]
        t += src_conn[members, None]
        t += dst_conn[None, :]
        r, c = np.nonzero(t <= cutoff_s)
        rows_l.append(members[r])
        cols_l.append(c)
        vals_l.append(t[r, c])
        start = stop
    if not rows_l:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=float)
    return np.concatenate(rows_l), np.concatenate(cols_l), np.concatenate(vals_l)


def row_minimum(m: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smallest stored entry of each non-empty row: (rows, columns, values)."""
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    if len(rows) == 0:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=float)
    order = np.lexsort((m.indices, m.data, rows))
    first = np.ones(len(order), dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    pick = order[first]
    return rows[pick], m.indices[pick].astype(np.int64), m.data[pick]


def _kernel() -> Any:
    """The compiled Dijkstra, imported when first needed (numba takes 0.2 s to import and
    a warm run reads its travel times from the cache)."""
    from siting._dijkstra import to_targets

    return to_targets
