"""Travel-time matrix: siting's compiled Dijkstra against networkx, and its growth.

1. The Almaty default matrix (every demand cell × every candidate within the
   travel cutoff) by :func:`siting.travel.travel_times`, against networkx's
   per-source Dijkstra (``single_source_dijkstra_path_length`` with the same
   cutoff) from the same sources on the same graph, assembled into the same
   pairs. networkx is timed on an evenly spaced sample of the sources and scaled
   to all of them (its cost per source does not depend on which one); the
   sampled rows are checked to agree with siting's to 1e-6 s. siting is timed
   (best of three, graph conversion included) on all CPUs and on one thread;
   scipy's csgraph Dijkstra from the same sources is shown for reference.
2. Growth with the number of demand points: random points in the city
   (1,000 to 50,000) against the same candidates.

Usage::

    .venv/bin/python -m benchmarks.bench_travel [--sample N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from siting import settings
from siting._dijkstra import default_threads, to_targets
from siting.cells import demand_points
from siting.pipeline import Inputs, prepare
from siting.scenario import load_scenario
from siting.travel import graph_matrix, travel_times

GROWTH = (1_000, 5_000, 10_000, 25_000, 50_000)


def almaty_inputs() -> Inputs:
    """Stages 1-4 of the Almaty default (from the cache when warm)."""
    return prepare(load_scenario(settings.DEFAULT_SCENARIO))


def versus_networkx(inputs: Inputs, *, sample: int = 60) -> dict[str, Any]:
    """Time the default matrix both ways; check the sampled rows agree."""
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    cutoff_s = sc.travel.cutoff_min * 60.0
    pts = demand_points(inputs.cells, inputs.parts, inputs.metric_crs)
    cand = inputs.candidates
    site_lonlat = (cand["lon"].to_numpy(), cand["lat"].to_numpy())
    kw: dict[str, Any] = dict(
        demand_lonlat=pts,
        site_lonlat=site_lonlat,
        site_nodes=cand["node"].to_numpy(),
        cutoff_s=cutoff_s,
        connector_speed_kph=sc.travel.connector_speed_kph,
    )
    t0 = time.perf_counter()
    to_targets(sp.csr_array((np.ones(1), ([0], [1])), shape=(2, 2)), np.array([0]), np.array([1]))
    first_call_s = time.perf_counter() - t0  # compile, or load the compiled kernel

    def timed(threads: int | None) -> tuple[float, Any]:
        best, out = np.inf, None
        for _ in range(3):
            t0 = time.perf_counter()
            gm = graph_matrix(inputs.graph, inputs.index)
            out = travel_times(gm, inputs.index, threads=threads, **kw)
            best = min(best, time.perf_counter() - t0)
        return best, out

    ours_s, tt = timed(None)
    ours_1_s, _ = timed(1)
    gm = graph_matrix(inputs.graph, inputs.index)
    d_pos, _ = inputs.index.snap(*pts)
    t0 = time.perf_counter()
    dijkstra(gm, indices=np.unique(d_pos), limit=cutoff_s)
    scipy_s = time.perf_counter() - t0

    # the same sources siting used: the side with fewer distinct road nodes
    ids = inputs.index.ids
    d_nodes, s_nodes = ids[tt.demand_pos], ids[tt.site_pos]
    forward = len(np.unique(d_nodes)) <= len(np.unique(s_nodes))
    G = inputs.graph if forward else inputs.graph.reverse(copy=False)
    src_nodes, src_conn = (d_nodes, tt.demand_conn_s) if forward else (s_nodes, tt.site_conn_s)
    dst_nodes, dst_conn = (s_nodes, tt.site_conn_s) if forward else (d_nodes, tt.demand_conn_s)
    sources = np.unique(src_nodes)
    picked = sources[np.linspace(0, len(sources) - 1, min(sample, len(sources))).astype(int)]
    dense = tt.matrix.toarray() if forward else tt.matrix.T.toarray()
    stored = tt.matrix.astype(bool).toarray() if forward else tt.matrix.T.astype(bool).toarray()
    worst = 0.0
    t1 = time.perf_counter()
    for node in picked.tolist():
        dist = nx.single_source_dijkstra_path_length(G, node, cutoff=cutoff_s, weight="travel_time")
        rows = np.flatnonzero(src_nodes == node)
        net = np.array([dist.get(n, np.inf) for n in dst_nodes.tolist()])
        t = net[None, :] + src_conn[rows, None] + dst_conn[None, :]
        keep = t <= cutoff_s
        # compare where both agree a pair is within the cutoff (edges of 1e-6 s aside)
        both = keep & stored[rows]
        if both.any():
            worst = max(worst, float(np.abs(t[both] - dense[rows][both]).max()))
    nx_sample_s = time.perf_counter() - t1
    nx_s = nx_sample_s * len(sources) / len(picked)
    return {
        "graph": {"nodes": len(inputs.graph), "edges": inputs.graph.size()},
        "demand_points": int(tt.shape[0]),
        "candidates": int(tt.shape[1]),
        "cutoff_min": sc.travel.cutoff_min,
        "pairs_within_cutoff": int(tt.matrix.nnz),
        "sources": len(sources),
        "siting_s": round(ours_s, 3),
        "siting_threads": default_threads(),
        "siting_1_thread_s": round(ours_1_s, 3),
        "kernel_first_call_s": round(first_call_s, 2),
        "scipy_dijkstra_s": round(scipy_s, 3),
        "networkx_sampled_sources": len(picked),
        "networkx_sample_s": round(nx_sample_s, 3),
        "networkx_s_all_sources": round(nx_s, 2),
        "ratio": round(nx_s / ours_s, 1),
        "ratio_1_thread": round(nx_s / ours_1_s, 1),
        "max_abs_diff_s": worst,
    }


def growth(inputs: Inputs, sizes: tuple[int, ...] = GROWTH, *, seed: int = 0) -> list[dict]:
    """Matrix time for more and more random demand points in the city."""
    sc = load_scenario(settings.DEFAULT_SCENARIO)
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = inputs.area.bounds
    cand = inputs.candidates
    gm = graph_matrix(inputs.graph, inputs.index)
    out = []
    for n in sizes:
        lon = rng.uniform(lon0, lon1, n)
        lat = rng.uniform(lat0, lat1, n)
        t0 = time.perf_counter()
        tt = travel_times(
            gm,
            inputs.index,
            demand_lonlat=(lon, lat),
            site_lonlat=(cand["lon"].to_numpy(), cand["lat"].to_numpy()),
            site_nodes=cand["node"].to_numpy(),
            cutoff_s=sc.travel.cutoff_min * 60.0,
            connector_speed_kph=sc.travel.connector_speed_kph,
        )
        secs = time.perf_counter() - t0
        out.append(
            {
                "demand_points": n,
                "candidates": len(cand),
                "pairs": int(tt.matrix.nnz),
                "seconds": round(secs, 3),
                "us_per_pair": round(1e6 * secs / max(1, tt.matrix.nnz), 4),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sample", type=int, default=60, help="networkx sources timed")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    inputs = almaty_inputs()
    vs = versus_networkx(inputs, sample=args.sample)
    print(
        f"Almaty matrix {vs['demand_points']} x {vs['candidates']} ({vs['pairs_within_cutoff']:,} "
        f"pairs within {vs['cutoff_min']:g} min): siting {vs['siting_s']:.2f} s, networkx "
        f"{vs['networkx_s_all_sources']:.1f} s ({vs['networkx_sampled_sources']} of "
        f"{vs['sources']} sources timed), ratio {vs['ratio']:.0f}x, max diff "
        f"{vs['max_abs_diff_s']:.1e} s"
    )
    rows = growth(inputs)
    for r in rows:
        print(
            f"{r['demand_points']:>7} points: {r['seconds']:.2f} s, {r['pairs']:,} pairs, "
            f"{r['us_per_pair']:.3f} us/pair"
        )
    if args.json:
        args.json.write_text(json.dumps({"networkx": vs, "growth": rows}, indent=2))


if __name__ == "__main__":
    main()
