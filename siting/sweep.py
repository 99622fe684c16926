"""Scenario sweeps: many plans from one base scenario, on Dask.

A sweep file (TOML) names a base scenario and the overrides to try::

    name = "almaty-adoption"
    base = "almaty.toml"            # relative to the sweep file; default: the Almaty default

    [grid]                          # every combination is one scenario
    "demand.preset" = ["today", "growth-2030"]
    "optimize.threshold_min" = [5, 10]

    [[scenarios]]                   # and/or a list; with a grid, each is crossed with it
    "optimize.model" = "mclp"

The file is checked whole before anything runs: every key a scenario field, every
value valid for it, and no two scenarios alike or in the same folder
(:func:`load_sweep`, in :mod:`siting._sweep_file`). This module runs the tasks.

Scenarios that share their network, demand layers, candidates and travel
settings (:func:`siting.pipeline.inputs_key`) share one
:class:`~siting.pipeline.Inputs`, built once as a Dask task and passed to each
scenario's task, so workers fetch it instead of rebuilding it. Each scenario
writes its own output folder atomically, with a ``sweep.json`` row; the
results table (``results.csv``, ``results.parquet``) is rewritten after every
finished scenario. A scenario that fails is recorded with its error and the
others go on; a rerun skips the scenarios whose folder is complete.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from siting._invariants import present
from siting._io import json_default
from siting._outdir import (
    MARKER,
    check_target,
    clean_stale,
    new_folders,
    remove_empty,
    scenario_folders,
    write_marker,
)
from siting._sweep_file import Sweep, Task, expand, load_sweep, scenario_id
from siting.errors import InputError
from siting.scenario import Scenario

__all__ = [
    "FIGURES",
    "ROW_FILE",
    "Sweep",
    "Task",
    "base_row",
    "completed_row",
    "expand",
    "load_sweep",
    "prepare_task",
    "results_frame",
    "run_sweep",
    "run_task",
    "scenario_id",
    "sweep_figure",
    "tidy",
    "write_results",
]

log = logging.getLogger(__name__)

#: Key figures copied from each scenario's ``kpis.json`` into the results table.
FIGURES = (
    "stations",
    "demand_total",
    "demand_served",
    "served_share",
    "coverage_share",
    "mean_access_min",
    "p95_access_min",
)
ROW_FILE = "sweep.json"


# ----------------------------------------------------------------------- tasks
def prepare_task(scenario: Scenario, cache_dir: str | None) -> Any:
    """Build the shared inputs (runs on a worker)."""
    from siting.pipeline import prepare

    return prepare(scenario, cache_dir=Path(cache_dir) if cache_dir else None)


def run_task(inputs: Any, task: Task, out_dir: str, cache_dir: str | None) -> dict[str, Any]:
    """Plan one scenario with the shared inputs and write its folder (runs on a worker).

    Never raises: a failure comes back as a row with ``status = "failed"``.
    """
    from siting.pipeline import run

    scenario = task.scenario
    if scenario is None:
        raise InputError(f"task: scenario {task.id} has no valid scenario to run ({task.error})")
    t0 = time.perf_counter()
    row = base_row(task)
    folder = Path(out_dir) / task.id
    try:
        if isinstance(inputs, BaseException):
            raise inputs
        done = {**row, "status": "done", "error": "", "inputs": getattr(inputs, "key", "")}
        result = run(
            scenario,
            folder,
            cache_dir=Path(cache_dir) if cache_dir else None,
            inputs=inputs,
            extra_files={ROW_FILE: "{}"},  # rewritten below, once the figures are known
        )
        k = result.kpis
        done.update({f: k.get(f) for f in FIGURES})
        done.update(
            solver_status=k["solver"]["status"],
            gap=k["solver"]["gap"],
            objective=k["solver"]["objective"],
            solve_s=k["solver"]["solve_s"],
            seconds=round(time.perf_counter() - t0, 3),
        )
        _write_row(folder / ROW_FILE, done)
        return done
    except Exception as exc:  # isolate: one failed scenario must not stop the sweep
        log.info("sweep: scenario %s failed: %s", task.id, exc)
        return {
            **row,
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
            "seconds": round(time.perf_counter() - t0, 3),
        }


def base_row(task: Task) -> dict[str, Any]:
    """The parameter part of a task's row."""
    params = {
        k: v if not isinstance(v, list | dict) else json.dumps(v) for k, v in task.overrides.items()
    }
    return {"scenario": task.id, **params}


def _write_row(path: Path, row: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, default=json_default, indent=1), encoding="utf-8")
    tmp.replace(path)


def completed_row(out_dir: Path, task: Task) -> dict[str, Any] | None:
    """The row of a task already finished in an earlier run of the sweep, if any."""
    folder = out_dir / task.id
    try:
        row = json.loads((folder / ROW_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if row.get("status") != "done" or not (folder / "kpis.json").is_file():
        return None
    if {k: row.get(k) for k in base_row(task)} != base_row(task):
        return None  # same folder name, other parameters: run again
    return dict(row)


# ----------------------------------------------------------------------- driver
def run_sweep(
    sweep: Sweep,
    out_dir: Path,
    *,
    client: Any | None = None,
    cache_dir: Path | None = None,
    on_row: Callable[[dict[str, Any], int, int], None] | None = None,
) -> pd.DataFrame:
    """Run every task of ``sweep``; return (and keep writing) the results table.

    Parameters
    ----------
    client
        A ``dask.distributed.Client``; ``None`` runs the tasks one by one in this
        process (same code, no Dask), which is also the reference for tests.
    on_row
        Called with each finished row, the number finished and the total.
    """
    out_dir = Path(out_dir)
    guard = scenario_folders(sweep.base.data_path, sweep.base.base_dir)
    check_target(out_dir, "sweep", field="out_dir", protect=guard)
    made = new_folders(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_marker(out_dir, "sweep")
    except OSError as exc:
        remove_empty(made)
        raise InputError(f"out_dir: cannot write {out_dir}: {exc.strerror or exc}") from None
    try:
        return _run_tasks(sweep, out_dir, client, cache_dir, on_row)
    except BaseException:
        tidy(sweep, out_dir, made)
        raise


def tidy(sweep: Sweep, out_dir: Path, made: list[Path]) -> None:
    """After a sweep stopped: remove the temporary folders of scenarios whose process
    is gone (a worker stopped while writing), then ``out_dir`` and its parents if the
    sweep made them (``made``, from :func:`siting._outdir.new_folders`) and nothing
    finished. Finished scenarios stay (a rerun skips them). Safe to call again."""
    out_dir = Path(out_dir)
    for task in sweep.tasks:
        clean_stale(out_dir / task.id)
    finished = out_dir.is_dir() and {f.name for f in out_dir.iterdir()} - {MARKER}
    if out_dir in made and not finished:
        shutil.rmtree(out_dir, ignore_errors=True)  # nothing finished: no trace
    remove_empty([f for f in made if f != out_dir])


def _run_tasks(
    sweep: Sweep,
    out_dir: Path,
    client: Any | None,
    cache_dir: Path | None,
    on_row: Callable[[dict[str, Any], int, int], None] | None,
) -> pd.DataFrame:
    """The body of :func:`run_sweep` once its folder is there."""
    rows: dict[str, dict[str, Any]] = {}
    pending: list[Task] = []
    for task in sweep.tasks:
        if task.scenario is None:
            rows[task.id] = {**base_row(task), "status": "failed", "error": task.error}
        elif (row := completed_row(out_dir, task)) is not None:
            rows[task.id] = {**row, "status": "done"}
            log.info("sweep: %s already done; skipped", task.id)
        else:
            pending.append(task)
    total = len(sweep.tasks)
    order = [t.id for t in sweep.tasks]

    def finish(row: dict[str, Any]) -> None:
        rows[row["scenario"]] = row
        write_results(sweep, rows, order, out_dir)
        if on_row is not None:
            on_row(row, len(rows), total)

    for row in list(rows.values()):
        if on_row is not None:
            on_row(row, len(rows), total)
    if rows:  # an empty table would only say that nothing has finished yet
        write_results(sweep, rows, order, out_dir)
    cache = str(cache_dir) if cache_dir else None
    groups: dict[str, list[Task]] = {}
    from siting.pipeline import inputs_key

    for task in pending:  # each with its scenario (the failed ones are rows already)
        groups.setdefault(inputs_key(present(task.scenario, "task.scenario")), []).append(task)

    if client is None:
        for tasks in groups.values():
            first = present(tasks[0].scenario, "task.scenario")
            try:
                inputs: Any = prepare_task(first, cache)
            except Exception as exc:  # every scenario of the group fails alike
                inputs = exc
            for task in tasks:
                finish(run_task(inputs, task, str(out_dir), cache))
        return results_frame(rows, order)

    futures: dict[Any, Task] = {}
    try:
        _collect(sweep, groups, client, str(out_dir), cache, futures, finish)
    except BaseException:
        client.cancel(list(futures))  # stopped: no scenario goes on writing
        raise
    return results_frame(rows, order)


def _collect(
    sweep: Sweep,
    groups: dict[str, list[Task]],
    client: Any,
    out_dir: str,
    cache: str | None,
    futures: dict[Any, Task],
    finish: Callable[[dict[str, Any]], None],
) -> None:
    """Submit every group's shared inputs and scenarios to ``client``; finish each row."""
    from distributed import as_completed

    for key, tasks in groups.items():
        first = present(tasks[0].scenario, "task.scenario")
        shared = client.submit(prepare_task, first, cache, key=f"inputs-{key}")
        for task in tasks:
            fut = client.submit(
                run_task, shared, task, out_dir, cache, key=f"scenario-{sweep.name}-{task.id}"
            )
            futures[fut] = task
    for fut in as_completed(list(futures)):
        task = futures[fut]
        if fut.status == "error":  # the shared inputs failed to build
            err = fut.exception()
            row = {
                **base_row(task),
                "status": "failed",
                "error": f"{type(err).__name__}: {err}".splitlines()[0],
            }
        else:
            row = fut.result()
        finish(row)


def results_frame(rows: dict[str, dict[str, Any]], order: list[str]) -> pd.DataFrame:
    """The rows in the sweep's order."""
    frame = pd.DataFrame([rows[i] for i in order if i in rows])
    for col in ("status", "error"):
        if col not in frame:
            frame[col] = ""
    return frame


def write_results(
    sweep: Sweep, rows: dict[str, dict[str, Any]], order: list[str], out_dir: Path
) -> None:
    """Rewrite ``results.csv`` and ``results.parquet`` atomically."""
    frame = results_frame(rows, order)
    for name, write in (
        ("results.csv", lambda p: frame.to_csv(p, index=False)),
        ("results.parquet", lambda p: frame.astype({"error": str}).to_parquet(p, index=False)),
    ):
        tmp = out_dir / f".{name}.tmp"
        write(tmp)
        tmp.replace(out_dir / name)


def sweep_figure(sweep: Sweep, results: pd.DataFrame, path: Path) -> Path | None:
    """Share served and within the threshold against each swept field."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = results[results["status"] == "done"].copy()
    if done.empty or not sweep.keys:
        return None
    for key in sweep.keys:  # a scenario that leaves a key out has the base's value
        if key in done:
            done[key] = done[key].astype(object).where(done[key].notna(), "base")
    fig, axes = plt.subplots(
        1,
        len(sweep.keys),
        figsize=(5.5 * len(sweep.keys), 4.2),
        squeeze=False,
        constrained_layout=True,
    )
    for ax, key in zip(axes[0], sweep.keys, strict=True):
        others = [k for k in sweep.keys if k != key and k in done]
        values = list(dict.fromkeys(done[key].tolist()))
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        xpos = {v: (v if numeric else i) for i, v in enumerate(values)}
        groups = done.groupby(others, dropna=False) if others else [((), done)]
        for label, frame in groups:
            frame = frame.assign(_x=frame[key].map(xpos)).sort_values("_x")
            parts = label if isinstance(label, tuple) else (label,)
            text = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(others, parts, strict=False))
            ax.plot(frame["_x"], 100 * frame["served_share"], "o-", label=f"served {text}".strip())
            ax.plot(
                frame["_x"],
                100 * frame["coverage_share"],
                "s--",
                alpha=0.6,
                label=f"within {text}".strip(),
            )
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
        ax.set_xlabel(key)
        ax.set_ylabel("% of demand")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"sweep {sweep.name}: demand served and within the threshold")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
