"""siting's models against spopt's on the same cost matrices and p, in one process.

Instances: the Almaty default (929 demand cells × 974 candidates, drive times in
minutes) for maximal covering (5 minutes, p = 311) and p-median (p = 311), and
synthetic instances of growing size (uniform random points, Euclidean costs).
Both libraries solve with HiGHS through PuLP; times include building the model.
siting's covering model runs without its access-time tie-break, so both solve the
same problem. Prints objectives, times and the ratio spopt time / siting time.

Usage::

    .venv/bin/python -m benchmarks.bench_spopt [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pulp

from siting.optimize import MaximalCovering, PMedian

warnings.filterwarnings("ignore")
logging.getLogger("siting").setLevel(logging.WARNING)


#: Largest synthetic p-median given to spopt: at 2000 x 400 its solve had not
#: finished after 15 minutes.
PMEDIAN_MAX = 1000 * 200


def almaty_instance() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense drive times (minutes; unreachable = 1e6), weights and fixed sites."""
    from siting import settings
    from siting.pipeline import plan
    from siting.scenario import load_scenario

    sc = load_scenario(settings.DEFAULT_SCENARIO).with_overrides({"optimize.model": "mclp"})
    run = plan(sc)
    dense = np.full(run.travel.shape, 1e6)
    m = run.travel.matrix
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    dense[rows, m.indices] = m.data / 60.0
    return dense, run.demand["sessions_day"].to_numpy(), np.flatnonzero(run.candidates["existing"])


def synthetic(n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 100, (n, 2))
    s = rng.uniform(0, 100, (m, 2))
    return np.linalg.norm(d[:, None] - s[None], axis=2), rng.integers(1, 100, n).astype(float)


def timed(fn: Any) -> tuple[float, float]:
    t0 = time.perf_counter()
    obj = fn()
    return float(obj), time.perf_counter() - t0


def run_mclp(
    cost: np.ndarray, w: np.ndarray, p: int, radius: float, fixed: np.ndarray | None = None
) -> dict[str, Any]:
    from spopt.locate import MCLP

    ours = timed(
        lambda: (
            MaximalCovering.from_cost_matrix(cost, w, p, threshold=radius, fixed=fixed)
            .solve(gap=0.0)
            .objective
        )
    )

    def theirs() -> float:
        pre = None
        if fixed is not None and len(fixed):
            pre = np.zeros(cost.shape[1], dtype=int)
            pre[fixed] = 1
        model = MCLP.from_cost_matrix(cost, w, radius, p, predefined_facilities_arr=pre)
        model.solve(pulp.HiGHS(msg=False, gapRel=0.0))
        return float(pulp.value(model.problem.objective))

    return {"siting": ours, "spopt": timed(theirs)}


def run_pmedian(
    cost: np.ndarray, w: np.ndarray, p: int, fixed: np.ndarray | None = None
) -> dict[str, Any]:
    from spopt.locate import PMedian as SpoptPMedian

    ours = timed(lambda: PMedian.from_cost_matrix(cost, w, p, fixed=fixed).solve(gap=0.0).objective)

    def theirs() -> float:
        pre = None
        if fixed is not None and len(fixed):
            pre = np.zeros(cost.shape[1], dtype=int)
            pre[fixed] = 1
        model = SpoptPMedian.from_cost_matrix(cost, w, p, predefined_facilities_arr=pre)
        model.solve(pulp.HiGHS(msg=False, gapRel=0.0))
        return float(pulp.value(model.problem.objective))

    return {"siting": ours, "spopt": timed(theirs)}


def compare(*, quick: bool = False, echo: bool = True) -> list[dict[str, Any]]:
    """Every instance with both libraries; one row per instance and model."""
    rows: list[dict[str, Any]] = []

    def report(name: str, model: str, res: dict[str, Any]) -> None:
        (o1, t1), (o2, t2) = res["siting"], res["spopt"]
        same = abs(o1 - o2) <= 1e-6 * max(1.0, abs(o2))
        rows.append(
            {
                "instance": name,
                "model": model,
                "siting_obj": o1,
                "spopt_obj": o2,
                "siting_s": t1,
                "spopt_s": t2,
                "ratio": t2 / t1,
                "same_objective": same,
            }
        )
        if echo:
            print(
                f"{name:<26}{model:<9}{o1:>14.3f}{o2:>14.3f}"
                f"{'  same' if same else '  DIFFERENT':<11}{t1:>9.2f}{t2:>9.2f}{t2 / t1:>8.1f}x",
                flush=True,
            )

    if echo:
        print(
            f"{'instance':<26}{'model':<9}{'siting obj':>14}{'spopt obj':>14}{'':<11}"
            f"{'siting s':>9}{'spopt s':>9}{'ratio':>9}"
        )
    if not quick:
        cost, w, fixed = almaty_instance()
        name = f"almaty {cost.shape[0]}x{cost.shape[1]} p=311"
        report(name, "mclp", run_mclp(cost, w, 311, 5.0, fixed))
        report(name, "pmedian", run_pmedian(np.minimum(cost, 30.0), w, 311, fixed))
    sizes = [(300, 60), (600, 120)] if quick else [(500, 100), (1000, 200), (2000, 400)]
    for n, m in sizes:
        cost, w = synthetic(n, m)
        report(f"synthetic {n}x{m} p=20", "mclp", run_mclp(cost, w, 20, 8.0))
        if n * m <= PMEDIAN_MAX:  # spopt's p-median has n*m assignment variables
            report(f"synthetic {n}x{m} p=20", "pmedian", run_pmedian(cost, w, 20))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small synthetic instances only")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = compare(quick=args.quick)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
