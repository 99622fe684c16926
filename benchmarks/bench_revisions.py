"""The same benchmarks on two revisions of siting, run in turn on one machine.

A change that should not change speed (a refactoring) is checked here: every
instance is solved by the base revision and by this tree alternately, each run in
its own process (``python -m benchmarks.bench_scale --child`` in that tree), so
both see the same machine load. Instances: the scale benchmark's models on sizes
that finish well inside their time limit (a run stopped by its limit says nothing
about speed), and the 40 OR-Library p-median instances
(:mod:`benchmarks.bench_orlib`). Reported: the median of each side's runs, their
ratio, and whether both found the same objective.

Usage::

    .venv/bin/python -m benchmarks.bench_revisions --base 7ce1f47 [--runs 2] [--quick] [--out FILE]

The base revision is checked out in a temporary ``git worktree`` and removed after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: (model, demand points, candidates, stations, time limit s[, city side km]): sizes
#: the scale benchmark proves optimal well within the limit on the reference machine;
#: the covering instances on 1/16 and 1/8 of the million-point city (the same
#: density) take its Benders engine.
INSTANCES: tuple[tuple[Any, ...], ...] = (
    ("mclp", 62_500, 312, 19, 120.0, 11.18),
    ("mclp", 125_000, 625, 39, 120.0, 15.81),
    ("mclp", 50_000, 1_000, 311, 120.0),
    ("mclp", 5_000, 10_000, 311, 120.0),
    ("capacitated", 50_000, 5_000, 311, 120.0),
    ("capacitated+secondary", 50_000, 5_000, 311, 120.0),
    ("capacitated", 5_000, 2_500, 311, 120.0),
    ("pmedian", 5_000, 5_000, 311, 120.0),
    ("pmedian", 25_000, 1_000, 311, 120.0),
    ("pmedian", 50_000, 1_000, 311, 120.0),
)

#: ``--quick``: small sizes, to check the benchmark itself.
QUICK: tuple[tuple[Any, ...], ...] = (
    ("mclp", 2_000, 300, 40, 30.0),
    ("capacitated", 2_000, 300, 40, 30.0),
    ("pmedian", 2_000, 300, 40, 30.0),
)


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A temporary checkout of ``rev`` beside this repository's objects."""
    with tempfile.TemporaryDirectory(prefix="siting-base-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(path), rev], cwd=ROOT, check=True
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False
            )


def _env(tree: Path) -> dict[str, str]:
    """This process's environment, with ``tree`` first on the path and the OR-Library
    folder beside this repository (a temporary checkout has no ``../shared``)."""
    orlib = os.environ.get(
        "SITING_ORLIB_DIR", str(ROOT.parent / "shared" / "benchmarks" / "orlib-pmed")
    )
    return {**os.environ, "PYTHONPATH": str(tree), "SITING_ORLIB_DIR": orlib}


def child(tree: Path, args: list[str]) -> dict[str, Any]:
    """Run ``python -m ARGS`` in ``tree`` (its siting and benchmarks); its last JSON line."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=tree, capture_output=True, text=True, env=_env(tree),
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{tree.name}: {' '.join(args)} failed: {tail[0]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t0
    return out


def scale_run(
    tree: Path, model: str, n: int, m: int, p: int, limit: float, area_km: float | None = None
) -> dict[str, Any]:
    spec = {"model": model, "n": n, "m": m, "p": p, "existing": p // 2, "time_limit": limit}
    if area_km is not None:
        spec["area_km"] = area_km
    return child(tree, ["benchmarks.bench_scale", "--child", json.dumps(spec)])


ORLIB_SCRIPT = """
import json, sys, time
from benchmarks.bench_orlib import solve_all
t0 = time.perf_counter()
rows = solve_all([f"pmed{k}" for k in range(1, int(sys.argv[1]) + 1)])
print(json.dumps({"plan_s": time.perf_counter() - t0, "ok": sum(r["ok"] for r in rows),
                  "objective": sum(r["objective"] for r in rows), "status": "optimal"}))
"""


def _orlib(tree: Path, last: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", ORLIB_SCRIPT, str(last)], cwd=tree, capture_output=True, text=True,
        env=_env(tree),
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"OR-Library in {tree}: {proc.stderr.strip()[-300:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def compare(base: Path, head: Path, *, runs: int, quick: bool = False) -> list[dict[str, Any]]:
    """Every instance on both trees, ``runs`` times each, alternating base and head."""
    for tree in (base, head):  # compile (or load) each tree's numba kernels first
        scale_run(tree, "pmedian", 500, 100, 20, 30.0)
    rows = []
    jobs: list[tuple[str, Any]] = [
        (f"{spec[0]} {spec[1]:,} × {spec[2]:,}, p = {spec[3]}", spec)
        for spec in (QUICK if quick else INSTANCES)
    ]
    last = 5 if quick else 40
    jobs.append((f"OR-Library pmed1–{last} (all)", None))
    for label, spec in jobs:
        sides: dict[str, list[dict[str, Any]]] = {"base": [], "head": []}
        for _ in range(runs):
            for side, tree in (("base", base), ("head", head)):
                res = scale_run(tree, *spec) if spec else _orlib(tree, last)
                sides[side].append(res)
        b = statistics.median(r["plan_s"] for r in sides["base"])
        h = statistics.median(r["plan_s"] for r in sides["head"])
        rows.append({
            "instance": label,
            "base_s": round(b, 3),
            "head_s": round(h, 3),
            "head_over_base": round(h / b, 3) if b > 0 else None,
            "same_objective": len({round(float(r["objective"]), 6)
                                   for r in sides["base"] + sides["head"]}) == 1,
            "status": sorted({str(r["status"]) for r in sides["base"] + sides["head"]}),
            "base_runs_s": [round(r["plan_s"], 3) for r in sides["base"]],
            "head_runs_s": [round(r["plan_s"], 3) for r in sides["head"]],
        })  # fmt: skip
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict[str, Any]], base: str, head: str) -> str:
    lines = [
        f"base {base}, head {head}; median of each side's runs, alternating, each run in "
        "its own process (model construction, heuristics, bounds and solver).",
        "",
        "| instance | base (s) | head (s) | head ÷ base | same objective | status |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['instance']} | {r['base_s']:.2f} | {r['head_s']:.2f} | "
            f"{r['head_over_base']:.2f} | {'yes' if r['same_objective'] else 'NO'} | "
            f"{', '.join(r['status'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--runs", type=int, default=2, help="runs of each instance on each side")
    ap.add_argument("--quick", action="store_true", help="small sizes (checks the benchmark)")
    ap.add_argument("--out", type=Path, help="write the table (Markdown) here as well")
    args = ap.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    with worktree(args.base) as base:
        rows = compare(base, ROOT, runs=args.runs, quick=args.quick)
    text = markdown(rows, args.base, head + " (this tree)")
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if all(r["same_objective"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
