"""Sweeps on a real Dask LocalCluster (2 worker processes) on the small area."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from siting.cli import main
from siting.sweep import Sweep, expand, load_sweep, run_sweep, scenario_id, sweep_figure
from tests.conftest import small_scenario_text


def test_expand_grid_and_list() -> None:
    grid = {"a": [1, 2], "b": ["x"]}
    assert expand(grid, []) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert expand({}, [{"c": 1}, {"c": 2}]) == [{"c": 1}, {"c": 2}]
    assert len(expand(grid, [{"c": 1}, {"c": 2}])) == 4
    assert (
        scenario_id({"demand.preset": "growth-2030", "optimize.p": 8}) == "preset-growth-2030__p-8"
    )


@pytest.fixture()
def sweep_file(tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path) -> Path:
    (tmp_path / "small.toml").write_text(small_scenario_text(data_dir, small_area_file))
    # 2 presets × 2 thresholds, with p = 8 and with p = 500 (more than the 196 candidates:
    # valid as a scenario, fails on its worker, alone)
    (tmp_path / "sweep.toml").write_text(
        """
name = "small-sweep"
base = "small.toml"

[grid]
"demand.preset" = ["today", "growth-2030"]
"optimize.threshold_min" = [3, 5]

[[scenarios]]
"optimize.p" = 8

[[scenarios]]
"optimize.p" = 500
"""
    )
    return tmp_path / "sweep.toml"


@pytest.mark.slow
def test_sweep_on_local_cluster_equals_serial(
    sweep_file: Path, tmp_path: Path, cache_dir: Path
) -> None:
    from distributed import Client, LocalCluster, get_task_stream

    from siting.pipeline import plan

    sweep = load_sweep(sweep_file)
    assert len(sweep.tasks) == 8
    bad = [t for t in sweep.tasks if t.overrides["optimize.p"] == 500]
    assert len(bad) == 4 and all(t.scenario is not None for t in bad)

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        seen: list[int] = []
        with get_task_stream(client) as stream:
            dist = run_sweep(
                sweep,
                tmp_path / "dask",
                client=client,
                cache_dir=cache_dir,
                on_row=lambda r, d, t: seen.append(d),
            )
        keys = [str(t["key"]) for t in stream.data]
        # all 8 scenarios share one set of inputs, built by one task on one worker
        assert sum(k.startswith("inputs-") for k in keys) == 1
        assert sum(k.startswith("scenario-") for k in keys) == 8
        assert len({t["worker"] for t in stream.data if str(t["key"]).startswith("scenario-")}) == 2
    serial = run_sweep(sweep, tmp_path / "serial", cache_dir=cache_dir)
    assert seen[-1] == 8
    done = dist[dist["status"] == "done"]
    assert len(done) == 4 and (dist["status"] == "failed").sum() == 4
    failed = dist[dist["status"] == "failed"]
    assert (failed["optimize.p"] == 500).all()
    assert all("optimize.p" in e for e in failed["error"]), failed["error"].tolist()
    cols = [
        "scenario",
        "stations",
        "served_share",
        "coverage_share",
        "mean_access_min",
        "solver_status",
    ]
    pd.testing.assert_frame_equal(
        done[cols].reset_index(drop=True),
        serial[serial["status"] == "done"][cols].reset_index(drop=True),
    )
    for sid in done["scenario"]:
        a = pd.read_csv(tmp_path / "dask" / sid / "sites.csv")
        b = pd.read_csv(tmp_path / "serial" / sid / "sites.csv")
        assert a["site_id"].tolist() == b["site_id"].tolist()
    # and the same as a plain run of that scenario, inputs built from scratch
    task = next(
        t for t in sweep.tasks if t.scenario is not None and t.id == done["scenario"].iloc[-1]
    )
    assert task.scenario is not None
    ref = plan(task.scenario)
    row = done[done["scenario"] == task.id].iloc[0]
    assert row["served_share"] == pytest.approx(ref.kpis["served_share"])
    sites = pd.read_csv(tmp_path / "dask" / task.id / "sites.csv")
    assert sites["site_id"].tolist() == ref.sites["site_id"].tolist()
    # growth has more demand than today at the same threshold
    t3 = done[done["optimize.threshold_min"] == 3].set_index("demand.preset")
    assert t3.at["growth-2030", "demand_total"] > t3.at["today", "demand_total"]
    table = pd.read_parquet(tmp_path / "dask" / "results.parquet")
    assert len(table) == 8 and set(table["status"]) == {"done", "failed"}


@pytest.mark.slow
def test_sweep_resumes_and_reports_failures(sweep_file: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "0", "-q"]) == 2
    err = capsys.readouterr().err
    assert "4 of 8 scenarios failed" in err and len(err.strip().splitlines()) == 1
    results = pd.read_csv(out / "results.csv")
    assert (results["status"] == "done").sum() == 4
    assert (out / "sweep.png").stat().st_size > 10_000
    done_ids = results.loc[results["status"] == "done", "scenario"].tolist()
    stamps = {s: (out / s / "kpis.json").stat().st_mtime_ns for s in done_ids}
    # a scenario whose folder was cut short is redone; the others are skipped
    (out / done_ids[0] / "sweep.json").write_text("{}")
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "0", "-q"]) == 2
    capsys.readouterr()
    again = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(
        again.drop(columns=["seconds", "solve_s"]).sort_values("scenario").reset_index(drop=True),
        results.drop(columns=["seconds", "solve_s"]).sort_values("scenario").reset_index(drop=True),
    )
    for s in done_ids[1:]:
        assert (out / s / "kpis.json").stat().st_mtime_ns == stamps[s]
    assert (out / done_ids[0] / "kpis.json").stat().st_mtime_ns != stamps[done_ids[0]]
    row = json.loads((out / done_ids[0] / "sweep.json").read_text())
    assert row["status"] == "done"


#: Sweep files wrong in themselves (on the Almaty default), and the one line each gives.
BAD_SWEEPS = [
    ('[grid]\n"optimize.p" = []\n', "[grid]: field 'optimize.p': expected a non-empty list"),
    ("gird = 1\n", "unknown field 'gird'"),
    ('name = "x"\n', "no scenarios"),
    # a key that is not a scenario field, in an entry or in the grid
    (
        '[[scenarios]]\n"optimize.p" = 8\n[[scenarios]]\n"optimize.stations" = 8\n',
        "[[scenarios]] entry 2: unknown field 'optimize.stations'",
    ),
    (
        '[grid]\n"optimize.thresold_min" = [3, 5]\n',
        "[grid]: unknown field 'optimize.thresold_min' (did you mean 'threshold_min'?)",
    ),
    ('[[scenarios]]\n"optimize.p.x" = 1\n', "[[scenarios]] entry 1: override 'optimize.p.x'"),
    # a value of the wrong type or out of range
    ('[grid]\n"optimize.p" = [8, true]\n', "[grid]: field 'optimize.p': expected an integer"),
    ('[grid]\n"optimize.p" = [8, 0]\n', "[grid]: field 'optimize.p': Input should be greater"),
    (
        '[[scenarios]]\n"optimize.capacity.handling_min" = inf\n',
        "entry 1: field 'optimize.capacity.handling_min': expected a finite number, got inf",
    ),
    ('[grid]\n"optimize.p" = 8\n', "[grid]: field 'optimize.p': expected a non-empty list"),
    ("grid = [1]\n", "[grid]: expected a table"),
    # the same scenario twice, or two scenarios in one folder
    ('[grid]\n"optimize.p" = [8, 8]\n', "[grid]: field 'optimize.p': 8 is listed twice"),
    (
        '[[scenarios]]\n"optimize.p" = 8\n[[scenarios]]\n"optimize.p" = 8\n',
        "[[scenarios]] entry 1 and [[scenarios]] entry 2 make the same scenario 'p-8'",
    ),
    (
        '[[scenarios]]\n"demand.residents.count" = 8\n[[scenarios]]\n"demand.taxis.count" = 8\n',
        "entry 1 and [[scenarios]] entry 2 make two scenarios with the folder name 'count-8'",
    ),
    (
        '[grid]\n"optimize.p" = [8]\n[[scenarios]]\n"optimize.p" = 9\n',
        "entry 1: field 'optimize.p' is also in [grid], whose values would replace it",
    ),
    # names that become folders
    ('name = "."\n[grid]\n"optimize.p" = [8]\n', "field 'name': expected a plain folder name"),
    ('name = ".."\n[grid]\n"optimize.p" = [8]\n', "field 'name': expected a plain folder name"),
    ('name = "a/b"\n[grid]\n"optimize.p" = [8]\n', "field 'name': expected a plain folder"),
    ('name = ""\n[grid]\n"optimize.p" = [8]\n', "field 'name': expected a plain folder name"),
    ('name = 5\n[grid]\n"optimize.p" = [8]\n', "field 'name': expected a string, got 5"),
    ('[[scenarios]]\nname = "."\n', "entry 1: field 'name': expected a plain folder name"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SWEEPS)
def test_sweep_bad_file(text: str, message: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.toml"
    path.write_text(text)
    out = tmp_path / "o"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not out.exists()  # refused before anything ran


def test_sweep_missing_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sweep", str(tmp_path / "missing.toml"), "--workers", "0"]) == 2
    assert "sweep file not found" in capsys.readouterr().err


def test_sweep_rule_between_fields_fails_alone(tmp_path: Path) -> None:
    """A value valid alone but breaking a rule between fields in one combination is that
    scenario's failure; the other scenarios keep theirs."""
    path = tmp_path / "s.toml"
    # the Almaty default's travel cutoff is 30 min
    path.write_text('[grid]\n"optimize.threshold_min" = [5, 40]\n')
    sweep = load_sweep(path)
    ok, bad = sweep.tasks
    assert ok.scenario is not None and ok.scenario.optimize.threshold_min == 5
    assert bad.scenario is None and bad.error is not None and "cutoff_min" in bad.error
    # and a key that needs another one of the same combination is valid
    path.write_text(
        '[[scenarios]]\n"optimize.p" = 150\n"optimize.phases" = [150]\n"optimize.curve" = []\n'
    )
    (task,) = load_sweep(path).tasks
    assert task.scenario is not None and task.scenario.optimize.phases == [150]


@pytest.mark.slow
def test_sweep_cli_on_an_existing_scheduler(
    tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from distributed import LocalCluster

    (tmp_path / "small.toml").write_text(small_scenario_text(data_dir, small_area_file))
    sweep = tmp_path / "two.toml"
    sweep.write_text('base = "small.toml"\n[grid]\n"optimize.threshold_min" = [3, 5]\n')
    out = tmp_path / "out"
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        code = main(
            ["sweep", str(sweep), "--scheduler", cluster.scheduler_address, "--out", str(out)]
        )
    assert code == 0
    printed = capsys.readouterr()
    assert "sweep two: 2 done, 0 failed" in printed.out
    assert "2/2" in printed.err  # the progress line
    results = pd.read_csv(out / "results.csv")
    assert results["status"].tolist() == ["done", "done"]
    assert results["coverage_share"].iloc[1] >= results["coverage_share"].iloc[0]
    assert all((out / s / "map.html").is_file() for s in results["scenario"])


def test_sweep_figure_with_entries_that_set_different_keys(tmp_path: Path) -> None:
    """Entries that leave a swept key out (the base's value) drew several NaN keys and
    crashed the figure (InvalidIndexError); they are drawn as "base"."""
    results = pd.DataFrame(
        {
            "scenario": ["a", "b", "c", "d"],
            "optimize.p": [8, 9, 8, 9],
            "optimize.threshold_min": [3, 3, None, None],
            "optimize.model": [None, None, "mclp", "mclp"],
            "status": ["done"] * 4,
            "served_share": [0.3, 0.35, 0.4, 0.45],
            "coverage_share": [0.6, 0.65, 0.7, 0.75],
        }
    )
    keys = ["optimize.p", "optimize.threshold_min", "optimize.model"]
    sweep = Sweep(name="mixed", base=None, tasks=[], keys=keys)  # type: ignore[arg-type]
    path = sweep_figure(sweep, results, tmp_path / "sweep.png")
    assert path is not None and path.stat().st_size > 0
