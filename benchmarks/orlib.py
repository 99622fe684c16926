"""Reader of OR-Library p-median instances (Beasley 1985), for the benchmarks and tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from siting.errors import DataFileError


@dataclass(frozen=True)
class PMedInstance:
    """An instance: all-pairs shortest-path costs between its n vertices, and p."""

    name: str
    n: int
    p: int
    costs: np.ndarray


def read_pmed(path: Path) -> PMedInstance:
    """Read ``pmedN.txt``: first line ``n m p``, then ``i j cost`` undirected edges.

    As OR-Library prescribes, when an edge appears more than once the last cost
    given stands. Costs between vertices are shortest-path lengths.
    """
    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        n, m, p = (int(v) for v in rows[0][:3])
        edges: dict[tuple[int, int], float] = {}
        for i, j, c in rows[1 : m + 1]:
            a, b = int(i) - 1, int(j) - 1
            edges[(min(a, b), max(a, b))] = float(c)  # the last cost stands
    except (OSError, ValueError, IndexError) as exc:
        raise DataFileError(f"{path}: not an OR-Library p-median file ({exc})") from None
    u, v = np.array(list(edges)).T
    w = np.fromiter(edges.values(), dtype=float)
    graph = sp.csr_array((w, (u, v)), shape=(n, n))
    costs = dijkstra(graph, directed=False)
    if not np.isfinite(costs).all():
        raise DataFileError(f"{path}: the graph is not connected")
    return PMedInstance(path.stem, n, p, costs)


def read_optima(path: Path) -> dict[str, float]:
    """Proven optimal values from ``pmedopt.txt``."""
    out: dict[str, float] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("pmed"):
            out[parts[0]] = float(parts[1])
    return out
