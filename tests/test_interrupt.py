"""A run killed mid-way leaves no partial output, and the next run works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from siting._outdir import MARKER, write_marker
from tests.conftest import small_scenario_text


def _start(scenario: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "siting.cli", "run", str(scenario), "--out", str(out)],
        cwd=scenario.parent,
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_partial(proc: subprocess.Popen[str], out: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if list(out.parent.glob(f".{out.name}.partial-*")):
            time.sleep(0.5)  # well inside the run
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail("the run never started writing")


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["term", "int", "kill"]
)
def test_killed_run_leaves_nothing_partial(
    sig: int, tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(small_scenario_text(data_dir, small_area_file, p=10))
    out = tmp_path / "out"
    out.mkdir()
    (out / "sites.csv").write_text("previous run\n")
    write_marker(out, "run")
    proc = _start(scenario, out)
    _wait_for_partial(proc, out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    # the previous output is untouched
    assert (out / "sites.csv").read_text() == "previous run\n"
    assert sorted(f.name for f in out.iterdir()) == sorted(["sites.csv", MARKER])
    partial = list(tmp_path.glob(".out.partial-*"))
    if sig != signal.SIGKILL:
        assert proc.returncode == 130 and "interrupted; no output was written" in err
        assert partial == []  # cleaned up on the way out
    else:
        assert proc.returncode == -signal.SIGKILL and len(partial) == 1  # no chance to clean
    # the next run works and clears what a killed run left
    rerun = _start(scenario, out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert len((out / "sites.csv").read_text().splitlines()) == 11  # header + 10 stations
    assert list(tmp_path.glob(".out.*")) == []


# A run whose optimise stage is held up, started by a script that patches the stage:
# "main" puts a long HiGHS solve where the plan is solved (before, on the main thread,
# which ran no signal handler until HiGHS returned); "beside" a long wait in the
# thread that solves the minimum plans (before, the interrupted main thread then
# waited for that thread as its ThreadPoolExecutor block ended).
_BUSY_RUNNER = """
import pathlib, random, sys, time

import pulp

import siting.planning as planning


def started():
    pathlib.Path("busy-started").write_text("x")


def solve_long(*args, **kwargs):
    rng = random.Random(1)
    prob = pulp.LpProblem("busy", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{i}", cat="Binary") for i in range(300)]
    prob += pulp.lpSum(rng.randint(1, 1000) * v for v in x)
    for _ in range(80):  # a hard multi-dimensional knapsack: HiGHS runs to its limit
        prob += pulp.lpSum(rng.randint(1, 1000) * v for v in x) <= 60000
    started()
    prob.solve(pulp.HiGHS(msg=False, timeLimit=600, threads=1))
    raise SystemExit("the solve was not interrupted")


def wait_long(*args, **kwargs):
    started()
    time.sleep(600)
    return []


if sys.argv.pop(1) == "main":
    planning.decide = solve_long
else:
    planning.minimum_plans = wait_long

from siting.cli import main

sys.exit(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("busy", "sig"),
    [("main", signal.SIGTERM), ("main", signal.SIGINT), ("beside", signal.SIGTERM)],
    ids=["solver-term", "solver-int", "worker-term"],
)
def test_signal_is_honoured_while_a_solver_runs(
    busy: str, sig: int, tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path
) -> None:
    """SIGTERM or SIGINT in the middle of a long solve ends the run within seconds
    (exit 130, nothing written): the main thread neither runs the solver itself nor
    waits for the thread that does."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(small_scenario_text(data_dir, small_area_file))
    runner = tmp_path / "runner.py"
    runner.write_text(_BUSY_RUNNER)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sites.csv").write_text("previous run\n")
    write_marker(out, "run")
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, str(runner), busy, "run", str(scenario), "--out", str(out)],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not (tmp_path / "busy-started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached the optimise stage"
        time.sleep(0.05)
    time.sleep(1.0)  # well inside the solve
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"still running 30 s after {signal.Signals(sig).name}")
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert "siting: interrupted; no output was written" in err and "Traceback" not in err
    assert took < 10, f"{took:.1f} s from the signal to the exit"
    assert (out / "sites.csv").read_text() == "previous run\n"
    assert sorted(f.name for f in out.iterdir()) == sorted(["sites.csv", MARKER])
    assert list(tmp_path.glob(".out.*")) == []


def _interrupt_in(seconds: float) -> None:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def test_a_step_in_a_worker_leaves_the_main_thread_interruptible() -> None:
    from siting import _threads

    assert _threads.call(divmod, 7, 2) == (3, 1)
    with pytest.raises(ZeroDivisionError):
        _threads.call(divmod, 1, 0)
    release = threading.Event()
    previous = signal.getsignal(signal.SIGALRM)
    try:
        _interrupt_in(0.3)
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            _threads.call(release.wait, 60, name="busy")
        assert time.monotonic() - t0 < 5
        left = _threads.abandoned()
        # still running and known as such (a join interrupted on CPython 3.11 would
        # have marked it stopped)
        assert [t.name for t in left] == ["siting-busy"] and left[0].is_alive()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
    left[0].join(10)
    assert _threads.abandoned() == []


def test_a_pool_left_by_an_interruption_does_not_wait_for_its_work() -> None:
    from siting import _threads

    release = threading.Event()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt), _threads.pool(2, "busy") as pool:
            running = pool.submit(release.wait, 60)
            queued = [pool.submit(release.wait, 60) for _ in range(3)]
            time.sleep(0.2)
            raise KeyboardInterrupt
        assert time.monotonic() - t0 < 5  # the running work was not waited for
        assert not running.done() and sum(f.cancelled() for f in queued) >= 2
        assert _threads.abandoned()
    finally:
        release.set()
    # left normally or by an error, the block waits for its work as before
    with _threads.pool(2, "calm") as pool:
        job = pool.submit(time.sleep, 0.2)
    assert job.done()
