"""A synthetic agglomeration: many demand points and candidates, sparse drive times.

Demand points are drawn around population centres of different sizes plus a
thin background (a city is lumpy); candidates partly where people are, partly
anywhere. Drive time is the straight-line distance times a detour factor at an
urban speed, stored only within a cutoff (a KD-tree query, never a dense
matrix). The first ``n_existing`` candidates are existing stations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

#: Straight-line to road distance.
DETOUR = 1.35
#: Urban driving speed, km/h.
SPEED_KPH = 28.0
#: Seconds added to every trip (parking, the last metres).
PARK_S = 30.0
#: Mean public charging sessions per day per demand point.
SESSIONS_PER_POINT = 0.11


def capacities() -> dict[str, float]:
    """Sessions/day of a 2-port AC (22 kW, 20 kWh) and DC (50 kW, 25 kWh) station,
    6 minutes of handling, at most one driver in five waiting in the peak hour
    (10 % of the day's sessions): the queueing model of the Almaty scenario."""
    from siting.queueing import daily_capacity

    return {
        "AC": daily_capacity(2, 20 / 22 + 0.1, 0.1, max_wait_prob=0.2),
        "DC": daily_capacity(2, 25 / 50 + 0.1, 0.1, max_wait_prob=0.2),
    }


@dataclass
class Instance:
    """Demand points, candidates and sparse drive times (seconds) within ``cutoff_s``."""

    demand_xy: np.ndarray  # (n, 2) km
    site_xy: np.ndarray  # (m, 2) km
    weights: np.ndarray  # sessions/day
    ac: np.ndarray  # AC share of the weights
    dc: np.ndarray  # DC (taxi) share
    seconds: sp.csr_array  # (n, m) drive times within the cutoff
    fixed: np.ndarray  # existing stations (candidate indices)
    cutoff_s: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.seconds.shape


def _city(rng: np.random.Generator, n: int, size_km: tuple[float, float]) -> np.ndarray:
    w, h = size_km
    k = 14
    centres = rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h], (k, 2))
    spread = rng.uniform(1.0, 5.0, k)
    mass = rng.pareto(1.2, k) + 1.0
    comp = rng.choice(k + 1, n, p=np.append(0.85 * mass / mass.sum(), 0.15))
    pts = (
        centres[np.minimum(comp, k - 1)]
        + rng.normal(size=(n, 2)) * spread[np.minimum(comp, k - 1), None]
    )
    background = comp == k
    pts[background] = rng.uniform([0, 0], [w, h], (int(background.sum()), 2))
    return np.clip(pts, [0, 0], [w, h])


def make_instance(
    n_demand: int,
    n_sites: int,
    *,
    n_existing: int = 150,
    cutoff_min: float = 10.0,
    size_km: tuple[float, float] | None = None,
    seed: int = 0,
) -> Instance:
    """Build a synthetic instance; the area grows with the number of demand points.

    The default area keeps about 25 demand points per km² (50,000 points: about
    45 km × 45 km, an agglomeration), with at least Almaty's 680 km².
    """
    rng = np.random.default_rng(seed)
    if size_km is None:
        side = max(26.0, float(np.sqrt(n_demand / 25.0)))
        size_km = (side, side)
    demand = _city(rng, n_demand, size_km)
    near_people = _city(rng, n_sites - n_sites * 2 // 5, size_km)
    anywhere = rng.uniform([0, 0], size_km, (n_sites * 2 // 5, 2))
    sites = np.vstack([near_people, anywhere])
    # about Almaty's public charging demand today (5,462 sessions/day) per 50,000 points
    raw = rng.lognormal(0.0, 0.9, n_demand)
    weights = np.round(raw * SESSIONS_PER_POINT / raw.mean(), 4)
    dc_share = rng.uniform(0.0, 0.4, n_demand)
    dc = np.round(weights * dc_share, 4)
    ac = weights - dc
    # drive time: road distance at the urban speed plus half a minute to park
    radius_km = (cutoff_min * 60.0 - PARK_S) / 3600.0 * SPEED_KPH / DETOUR
    dist = cKDTree(demand).sparse_distance_matrix(
        cKDTree(sites), radius_km, output_type="coo_matrix"
    )
    secs = sp.csr_array(
        (dist.data * DETOUR / SPEED_KPH * 3600.0 + PARK_S, (dist.row, dist.col)),
        shape=(n_demand, n_sites),
    )
    secs.sort_indices()
    fixed = np.sort(rng.choice(n_sites, n_existing, replace=False))
    return Instance(demand, sites, weights, ac, dc, secs, fixed, cutoff_min * 60.0)
