"""The compiled many-to-many Dijkstra equals scipy's on random graphs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from siting._dijkstra import to_targets


@st.composite
def graphs(draw: st.DrawFn) -> tuple[sp.csr_array, np.ndarray, np.ndarray, float]:
    n = draw(st.integers(1, 25))
    m = draw(st.integers(0, 4 * n))
    u = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=int)
    v = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=int)
    w = np.array(draw(st.lists(st.integers(1, 9), min_size=m, max_size=m)), dtype=float)
    g = sp.csr_array((w, (u, v)), shape=(n, n))  # parallel edges add up: still a graph
    g.sum_duplicates()
    sources = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)))
    targets = np.array(sorted(draw(st.sets(st.integers(0, n - 1), min_size=1))))
    limit = draw(st.sampled_from([np.inf, 0.0, 5.0, 12.0]))
    return g, sources, targets, limit


@settings(max_examples=150, deadline=None)
@given(graphs(), st.integers(1, 3))
def test_equals_scipy(case: tuple[sp.csr_array, np.ndarray, np.ndarray, float], k: int) -> None:
    g, sources, targets, limit = case
    want = dijkstra(g, indices=sources, limit=limit)[:, targets]
    got = to_targets(g, sources, targets, limit, threads=k)
    assert got.shape == want.shape
    assert (np.isinf(got) == np.isinf(want)).all()
    assert np.array_equal(got[np.isfinite(got)], want[np.isfinite(want)])


def test_zero_time_edges_count_and_empty_inputs() -> None:
    g = sp.csr_array(([0.0, 2.0], ([0, 1], [1, 2])), shape=(3, 3))  # explicit zero kept
    assert to_targets(g, np.array([0]), np.array([1, 2])).tolist() == [[0.0, 2.0]]
    assert to_targets(g, np.array([], dtype=int), np.array([1])).shape == (0, 1)
    assert to_targets(g, np.array([0]), np.array([], dtype=int)).shape == (1, 0)


def test_duplicate_targets_are_refused() -> None:
    g = sp.csr_array(([1.0], ([0], [1])), shape=(2, 2))
    with pytest.raises(ValueError, match="targets"):
        to_targets(g, np.array([0]), np.array([1, 1]))
