"""Time per stage and peak memory of a scenario run, cold and warm.

Each run is a separate process, so "cold" really starts with an empty graph
cache and peak memory (``VmHWM``) belongs to that run alone:

* cold: a fresh cache folder, so the road graph, demand layers and travel times
  are built from the input files;
* warm: the same cache folder again, so all three come from the cache.

Usage::

    .venv/bin/python -m benchmarks.bench_pipeline [SCENARIO] [--repeat N] [--json FILE]

Targets for the Almaty default on the 2-core machine: cold <= 90 s, warm <= 20 s,
peak memory <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time, tempfile
from pathlib import Path
t0 = time.perf_counter()
from siting.pipeline import run
from siting.scenario import load_scenario
t_import = time.perf_counter() - t0
with tempfile.TemporaryDirectory() as out:
    result = run(load_scenario(sys.argv[1]), Path(out) / "run")
wall = time.perf_counter() - t0
from benchmarks import peak_rss_mb
peak_mb = peak_rss_mb()
print(json.dumps({"import_s": t_import, "wall_s": wall, "peak_mb": peak_mb,
                  "stages": result.timings, "stations": result.kpis["stations"],
                  "solver": result.kpis["solver"]["label"]}))
"""


def run_once(scenario: Path, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "SITING_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(scenario)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"bench: run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(scenario: Path, *, repeat: int = 1) -> dict[str, Any]:
    """Cold and warm runs of ``scenario``, each in its own process; the best of each."""
    results: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="siting-bench-cache-") as cache:
            results["cold"].append(run_once(scenario, Path(cache)))
            results["warm"].append(run_once(scenario, Path(cache)))
    best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in results.items()}
    return {"scenario": str(scenario), "best": best, "runs": results}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "data" / "almaty.toml"))
    ap.add_argument("--repeat", type=int, default=1, help="runs of each kind (best is reported)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    scenario = Path(args.scenario)

    measured = measure(scenario, repeat=args.repeat)
    best, results = measured["best"], measured["runs"]
    stages = list(best["cold"]["stages"])
    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"scenario {scenario.name}; {machine}")
    print(f"{'stage':<12}{'cold s':>10}{'warm s':>10}")
    for s in stages:
        print(f"{s:<12}{best['cold']['stages'][s]:>10.2f}{best['warm']['stages'][s]:>10.2f}")
    for key, label in (("import_s", "import"), ("wall_s", "process"), ("peak_mb", "peak MB")):
        print(f"{label:<12}{best['cold'][key]:>10.1f}{best['warm'][key]:>10.1f}")
    print(f"plan: {best['cold']['stations']} stations; solver {best['cold']['solver']}")
    verdict = {
        "cold_s<=90": best["cold"]["wall_s"] <= 90,
        "warm_s<=20": best["warm"]["wall_s"] <= 20,
        "peak_mb<=2048": max(best["cold"]["peak_mb"], best["warm"]["peak_mb"]) <= 2048,
    }
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in verdict.items()))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"best": best, "runs": results, "targets": verdict}, indent=2)
        )


if __name__ == "__main__":
    main()
