"""A run killed mid-way leaves no partial output, and the next run works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
