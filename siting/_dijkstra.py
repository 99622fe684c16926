"""Compiled many-source, many-target Dijkstra for the travel-time stage.

One search per source over a CSR graph, with a binary heap and lazy deletion,
stopping at the time limit or once every target is settled; only the target
columns are written, so memory is sources × targets, never sources × nodes.
The kernel is compiled by numba (cached on disk after the first run) and holds
no GIL, so blocks of sources run on several threads at once. Every search is
independent: the result does not depend on the number of threads.
"""

from __future__ import annotations

import os

import numba
import numpy as np
import scipy.sparse as sp

from siting import _threads


@numba.njit(cache=True, nogil=True)
def _search(  # pragma: no cover - compiled
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    sources: np.ndarray,
    limit: float,
    slot: np.ndarray,
    n_targets: int,
    out: np.ndarray,
) -> None:
    """Fill ``out[k, slot[v]]`` with the time from ``sources[k]`` to each target ``v``."""
    n = len(indptr) - 1
    dist = np.empty(n)
    cap = len(indices) + 1  # every push follows an improvement along one edge
    heap_d = np.empty(cap)
    heap_n = np.empty(cap, dtype=np.int64)
    for k in range(len(sources)):
        row = out[k]
        dist[:] = np.inf
        src = sources[k]
        dist[src] = 0.0
        heap_d[0] = 0.0
        heap_n[0] = src
        size = 1
        left = n_targets
        while size > 0:
            d = heap_d[0]
            u = heap_n[0]
            size -= 1
            if size > 0:  # move the last entry to the root and sift it down
                last_d = heap_d[size]
                last_n = heap_n[size]
                i = 0
                while True:
                    c = 2 * i + 1
                    if c >= size:
                        break
                    if c + 1 < size and heap_d[c + 1] < heap_d[c]:
                        c += 1
                    if heap_d[c] < last_d:
                        heap_d[i] = heap_d[c]
                        heap_n[i] = heap_n[c]
                        i = c
                    else:
                        break
                heap_d[i] = last_d
                heap_n[i] = last_n
            if d > dist[u]:
                continue  # a stale entry
            s = slot[u]
            if s >= 0:
                row[s] = d
                left -= 1
                if left == 0:
                    break
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = d + data[e]
                if nd < dist[v] and nd <= limit:
                    dist[v] = nd
                    i = size  # push and sift up
                    size += 1
                    while i > 0:
                        p = (i - 1) >> 1
                        if heap_d[p] > nd:
                            heap_d[i] = heap_d[p]
                            heap_n[i] = heap_n[p]
                            i = p
                        else:
                            break
                    heap_d[i] = nd
                    heap_n[i] = v


def default_threads() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def to_targets(
    graph: sp.csr_array,
    sources: np.ndarray,
    targets: np.ndarray,
    limit: float = np.inf,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """Shortest times from each source node to each target node.

    Parameters
    ----------
    graph
        (n, n) CSR matrix of non-negative edge times.
    sources, targets
        Node positions; ``targets`` must hold no duplicates.
    limit
        Times above it are not searched and come back as ``inf``.
    threads
        Threads to run on (default: the CPUs available).

    Returns
    -------
    numpy.ndarray
        Shape (len(sources), len(targets)); ``inf`` where the target is farther
        than ``limit`` or unreachable. Equal to
        ``scipy.sparse.csgraph.dijkstra(graph, indices=sources, limit=limit)[:, targets]``.
    """
    n = graph.shape[0]
    sources = np.ascontiguousarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    out = np.full((len(sources), len(targets)), np.inf)
    if len(sources) == 0 or len(targets) == 0:
        return out
    slot = np.full(n, -1, dtype=np.int64)
    slot[targets] = np.arange(len(targets))
    if (slot[targets] != np.arange(len(targets))).any():
        raise ValueError("targets: expected distinct node positions, got duplicates")
    indptr = np.ascontiguousarray(graph.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(graph.indices, dtype=np.int64)
    data = np.ascontiguousarray(graph.data, dtype=np.float64)
    limit = float(limit)
    workers = max(1, min(threads or default_threads(), len(sources)))
    if workers == 1:
        _search(indptr, indices, data, sources, limit, slot, len(targets), out)
        return out
    # small interleaved blocks balance long and short searches across threads
    block = max(1, min(64, len(sources) // (4 * workers)))
    starts = range(0, len(sources), block)

    def run(start: int) -> None:
        part = slice(start, min(start + block, len(sources)))
        _search(indptr, indices, data, sources[part], limit, slot, len(targets), out[part])

    with _threads.pool(workers, "dijkstra") as pool:
        list(pool.map(run, starts))
    return out
