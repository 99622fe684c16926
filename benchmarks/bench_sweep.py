"""Sweeps on the Almaty default: serial against a Dask LocalCluster of 2 workers.

Eight scenarios (adoption today / growth-2030 × threshold 5 / 10 min × p 250 / 311;
no curve) run three ways in one process:

- ``naive``: each scenario planned from scratch with :func:`siting.pipeline.run`
  (graph from the on-disk cache, but demand layers, candidates and travel times
  rebuilt every time) — what a planner running one command per question gets;
- ``serial``: :func:`siting.sweep.run_sweep` without Dask (shared inputs built once);
- ``dask``: the same on a LocalCluster of ``--workers`` processes (default 2).

Prints wall times, speedups, and the cost of shipping the shared inputs to the
workers (their pickled size and the time to send them to every worker).

Usage::

    .venv/bin/python benchmarks/bench_sweep.py [--workers 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

from siting import settings
from siting.pipeline import prepare, run
from siting.scenario import load_scenario
from siting.sweep import Sweep, Task, run_sweep, scenario_id

GRID: dict[str, list[Any]] = {
    "demand.preset": ["today", "growth-2030"],
    "optimize.threshold_min": [5, 10],
    "optimize.p": [250, 311],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from distributed import Client, LocalCluster

    from siting.sweep import expand

    base = load_scenario(settings.DEFAULT_SCENARIO).with_overrides({"optimize.curve": None})
    tasks = [
        Task(scenario_id(o), o, base.with_overrides({**o, "name": scenario_id(o)}))
        for o in expand(GRID, [])
    ]
    sweep = Sweep("bench", base, tasks, list(GRID))
    prepare(base)  # warm the graph cache, so every variant starts from the same disk state
    out = Path(tempfile.mkdtemp(prefix="siting-bench-sweep-"))
    figures: dict[str, float] = {}

    t0 = time.perf_counter()
    for t in tasks:
        assert t.scenario is not None
        run(t.scenario, out / "naive" / t.id)
    figures["naive_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    serial = run_sweep(sweep, out / "serial")
    figures["serial_s"] = time.perf_counter() - t0

    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("siting.pipeline"))  # imports paid before timing
        t0 = time.perf_counter()
        dist = run_sweep(sweep, out / "dask", client=client)
        figures["dask_s"] = time.perf_counter() - t0
        # shipping the shared inputs: size, and time to send them to every worker
        t0 = time.perf_counter()
        inputs = prepare(base)
        figures["prepare_s"] = time.perf_counter() - t0
        blob = pickle.dumps(inputs, protocol=pickle.HIGHEST_PROTOCOL)
        figures["inputs_mb"] = len(blob) / 1e6
        t0 = time.perf_counter()
        client.scatter(inputs, broadcast=True)
        figures["ship_s"] = time.perf_counter() - t0

    assert (serial["status"] == "done").all() and (dist["status"] == "done").all()
    cols = ["scenario", "served_share", "coverage_share", "mean_access_min"]
    same = serial[cols].reset_index(drop=True).equals(dist[cols].reset_index(drop=True))
    print(f"{len(tasks)} Almaty scenarios ({', '.join(GRID)}), {args.workers} workers")
    print(f"  naive (each from scratch): {figures['naive_s']:7.1f} s")
    print(
        f"  serial sweep (shared):     {figures['serial_s']:7.1f} s "
        f"({figures['naive_s'] / figures['serial_s']:.2f}x vs naive)"
    )
    print(
        f"  dask sweep:                {figures['dask_s']:7.1f} s "
        f"({figures['serial_s'] / figures['dask_s']:.2f}x vs serial, "
        f"{figures['naive_s'] / figures['dask_s']:.2f}x vs naive)"
    )
    print(
        f"  shared inputs: built in {figures['prepare_s']:.1f} s, {figures['inputs_mb']:.1f} MB "
        f"pickled, sent to {args.workers} workers in {figures['ship_s']:.2f} s"
    )
    print(f"  dask results equal serial: {same}")
    print(
        serial[
            ["scenario", "served_share", "coverage_share", "mean_access_min", "seconds"]
        ].to_string(index=False)
    )
    if args.json:
        args.json.write_text(json.dumps({**figures, "same": same}, indent=1))


if __name__ == "__main__":
    main()
