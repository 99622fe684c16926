"""Solve the 40 OR-Library p-median instances and check them against the proven optima.

Prints, per instance: name, n, p, objective, proven optimum, status, seconds (model build
plus solve), and a total. Exits 1 if any instance misses its optimum or is not proven
optimal.

Usage::

    .venv/bin/python -m benchmarks.bench_orlib [pmed1 pmed2 ...] [--solver highs|cbc]
        [--time-limit S] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.orlib import read_optima, read_pmed
from siting.optimize import PMedian

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(
    os.environ.get("SITING_ORLIB_DIR", ROOT.parent / "shared" / "benchmarks" / "orlib-pmed")
)


def solve_all(
    names: list[str], *, solver: str = "highs", time_limit: float = 600.0, data: Path = DEFAULT_DATA
) -> list[dict[str, Any]]:
    """Solve the named instances; one row per instance with its proven optimum."""
    optima = read_optima(data / "pmedopt.txt")
    rows = []
    for name in names:
        inst = read_pmed(data / f"{name}.txt")
        t0 = time.perf_counter()
        res = PMedian(inst.costs, np.ones(inst.n), inst.p).solve(
            solver, time_limit=time_limit, gap=0.0
        )
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "name": name,
                "n": inst.n,
                "p": inst.p,
                "objective": res.objective,
                "optimum": optima[name],
                "status": res.status,
                "solver": res.solver,
                "seconds": round(seconds, 3),
                "ok": res.proven_optimal and abs(res.objective - optima[name]) < 1e-6,
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("names", nargs="*", help="instances (default: pmed1 to pmed40)")
    ap.add_argument("--solver", default="highs", choices=["highs", "cbc"])
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds per instance")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    names = args.names or [f"pmed{k}" for k in range(1, 41)]
    print(
        f"{'name':<8}{'n':>5}{'p':>5}{'objective':>11}{'optimum':>10}  {'status':<10}{'seconds':>9}"
    )
    total = 0.0
    bad = []
    for name in names:
        (r,) = solve_all([name], solver=args.solver, time_limit=args.time_limit, data=args.data)
        total += r["seconds"]
        if not r["ok"]:
            bad.append(name)
        print(
            f"{name:<8}{r['n']:>5}{r['p']:>5}{r['objective']:>11.0f}{r['optimum']:>10.0f}  "
            f"{r['status']:<10}{r['seconds']:>9.2f}{'' if r['ok'] else '  MISMATCH'}",
            flush=True,
        )
    n_ok = len(names) - len(bad)
    print(f"total {total:.1f} s for {len(names)} instances; {n_ok} at their proven optimum")
    if bad:
        print("not at a proven optimum: " + ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
