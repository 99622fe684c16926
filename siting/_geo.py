"""Private geometry helpers: snapping points to graph nodes in metres."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree


def utm_for(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone CRS containing a point."""
    zone = int((lon + 180.0) // 6.0) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def node_arrays(G: nx.MultiDiGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids, longitudes and latitudes of ``G`` in a fixed (sorted) order."""
    ids = np.array(sorted(G.nodes), dtype=np.int64)
    x = np.fromiter((G.nodes[n]["x"] for n in ids), dtype=float, count=len(ids))
    y = np.fromiter((G.nodes[n]["y"] for n in ids), dtype=float, count=len(ids))
    return ids, x, y


@dataclass(frozen=True)
class NodeIndex:
    """Graph nodes in a fixed order, with a KD-tree on metric coordinates.

    ``pos[i]`` is the row of node ``ids[i]`` in every matrix built from the graph.
    """

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    xy: np.ndarray
    tree: cKDTree
    crs: CRS

    @classmethod
    def from_graph(cls, G: nx.MultiDiGraph) -> NodeIndex:
        """Index the nodes of ``G`` (WGS84 ``x``/``y`` attributes)."""
        ids, lon, lat = node_arrays(G)
        crs = utm_for(float(np.median(lon)), float(np.median(lat)))
        xy = project(lon, lat, crs)
        return cls(ids, lon, lat, xy, cKDTree(xy), crs)

    def snap(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node position (row) and straight-line distance (m) per point."""
        if len(lon) == 0:
            return np.array([], dtype=np.int64), np.array([], dtype=float)
        dist, pos = self.tree.query(project(np.asarray(lon), np.asarray(lat), self.crs))
        return np.asarray(pos, dtype=np.int64), np.asarray(dist, dtype=float)

    def position(self, node_ids: np.ndarray) -> np.ndarray:
        """Rows of the given node ids (which must be in the graph)."""
        return np.searchsorted(self.ids, node_ids)

    def to_metric(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Project WGS84 coordinates into this index's metric CRS."""
        return project(np.asarray(lon), np.asarray(lat), self.crs)

    def to_lonlat(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Back from metric coordinates to WGS84 lon/lat."""
        tr = Transformer.from_crs(self.crs, 4326, always_xy=True)
        lon, lat = tr.transform(xy[:, 0], xy[:, 1])
        return np.asarray(lon), np.asarray(lat)


def project(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    """WGS84 lon/lat arrays to an (n, 2) array of metric coordinates."""
    tr = Transformer.from_crs(4326, crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
