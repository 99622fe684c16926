"""Output folders never destroy what is not siting output (issue 27).

A run, a comparison or a sweep replaces only a folder that is new, empty or holds
siting output of its own kind; a user's folder, the data folder, the folder of a
compared run, the current folder and names like ``.`` are refused with one line
and exit code 2 before any work, and a failed run leaves no folder it made.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from siting._outdir import MARKER, atomic_dir, check_target, output_kind, write_marker
from siting.cli import main
from siting.errors import InputError
from tests.conftest import small_scenario_text


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], pattern: str) -> None:
    """``siting argv`` exits 2 with one line matching ``pattern``, no traceback."""
    import re

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert re.search(pattern, err[0]), err[0]


def _user_folder(path: Path) -> dict[str, str]:
    path.mkdir(parents=True)
    files = {"notes.txt": "my notes\n", "budget.xlsx": "numbers"}
    for name, text in files.items():
        (path / name).write_text(text)
    return files


def _same(path: Path, files: dict[str, str]) -> bool:
    return {f.name: f.read_text() for f in path.iterdir()} == files


def test_a_run_refuses_a_users_folder(
    small_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    files = _user_folder(docs)
    _refused(
        ["run", str(small_scenario), "--out", str(docs)],
        capsys,
        r"^siting: error: --out: .*docs is not empty and holds no siting run \(budget\.xlsx",
    )
    assert _same(docs, files)


@pytest.mark.parametrize("where", ["same", "inside"])
def test_a_run_refuses_the_data_folder(
    small_scenario: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """A stand-in data folder (SITING_DATA_DIR), never the real one: were the guard
    broken, the test would replace it."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "roads.osm.pbf").write_bytes(b"the city's extract")
    monkeypatch.setenv("SITING_DATA_DIR", str(data))
    target = data if where == "same" else data / "new-run"
    _refused(
        ["run", str(small_scenario), "--out", str(target)],
        capsys,
        r"--out: .* would replace the data folder",
    )
    assert [f.name for f in data.iterdir()] == ["roads.osm.pbf"]


@pytest.mark.parametrize("out", [".", "..", "./", "sub/..", ""])
def test_names_that_are_not_folders_are_refused(
    small_scenario: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    out: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(f.name for f in tmp_path.iterdir())
    _refused(["run", str(small_scenario), "--out", out], capsys, r"^siting: error: --out: ")
    assert sorted(f.name for f in tmp_path.iterdir()) == before


def test_a_scenario_named_dot_does_not_replace_the_out_folder(
    small_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "out" / "almaty"
    other.mkdir(parents=True)
    (other / "kpis.json").write_text("{}")
    write_marker(other, "run")
    assert main(["run", str(small_scenario), "--set", "name=.", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("siting: error: "), err
    assert (other / "kpis.json").read_text() == "{}"


def test_a_failed_run_leaves_no_folder_it_made(
    tmp_path: Path, data_dir: Path, small_area_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(small_scenario_text(data_dir, small_area_file, p=1000))  # p too large
    out = tmp_path / "new" / "deeper" / "out"
    assert main(["run", str(scenario), "--out", str(out), "-q"]) == 2
    assert not (tmp_path / "new").exists()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["s.toml"]


def test_a_file_in_the_way_of_the_output_is_one_line(
    small_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    _refused(
        ["run", str(small_scenario), "--out", str(blocker / "out")],
        capsys,
        r"--out: cannot make the folder .*blocker",
    )
    assert blocker.read_text() == "a file, not a folder"


def test_a_read_only_parent_is_one_line(tmp_path: Path) -> None:
    """Where permissions hold (not as root), a read-only parent is bad input."""
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("running as root: permissions do not hold")
        with (
            pytest.raises(InputError, match=r"out: cannot write in .*ro"),
            atomic_dir(parent / "out"),
        ):
            pass
    finally:
        parent.chmod(0o755)


def test_compare_refuses_to_write_over_or_inside_a_compared_run(
    small_run, small_run_mclp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    (_, a), (_, b) = small_run, small_run_mclp
    before = {f.name: f.stat().st_mtime_ns for f in a.iterdir()}
    for target in (a, a / "cmp"):
        _refused(
            ["compare", str(a), str(b), "--out", str(target)],
            capsys,
            r"--out: .* would replace the folder of run",
        )
    assert {f.name: f.stat().st_mtime_ns for f in a.iterdir()} == before
    # a run folder that is not one of the compared runs is still not a comparison
    other = tmp_path / "other-run"
    other.mkdir()
    (other / "kpis.json").write_text("{}")
    write_marker(other, "run")
    _refused(
        ["compare", str(a), str(b), "--out", str(other)],
        capsys,
        r"--out: .*other-run holds a siting run, not a comparison",
    )


def test_what_may_be_replaced(tmp_path: Path) -> None:
    new, empty = tmp_path / "new", tmp_path / "empty"
    empty.mkdir()
    assert check_target(new, "run") == new.resolve()
    assert check_target(empty, "run") == empty.resolve()
    run = tmp_path / "run"
    with atomic_dir(run) as tmp:
        (tmp / "a.txt").write_text("x")
    assert output_kind(run) == "run" and json.loads((run / MARKER).read_text())["kind"] == "run"
    assert check_target(run, "run") == run.resolve()
    legacy = tmp_path / "legacy"  # written before the marker existed
    legacy.mkdir()
    (legacy / "kpis.json").write_text("{}")
    (legacy / "run.log").write_text("")
    assert output_kind(legacy) == "run" and check_target(legacy, "run")
    with pytest.raises(InputError, match="holds a siting run, not a sweep"):
        check_target(run, "sweep")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="exists and is not a folder"):
        check_target(tmp_path / "file", "run")


def test_the_current_folder_and_its_parents_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for target in (work, tmp_path / "a", Path.home()):
        with pytest.raises(InputError, match="holds the current folder"):
            check_target(target, "run")


SWEEP = """
name = "stop"
base = "s.toml"
[grid]
"optimize.p" = [6, 8, 10, 12]
"""


@pytest.mark.slow
def test_a_sweep_stopped_by_sigterm_leaves_nothing_behind(
    tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path
) -> None:
    """SIGTERM while the workers write: exit 130, no partial folder, and no empty
    results table or folder when nothing had finished."""
    (tmp_path / "s.toml").write_text(small_scenario_text(data_dir, small_area_file))
    (tmp_path / "sweep.toml").write_text(SWEEP)
    out = tmp_path / "made" / "sweep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "siting.cli", "sweep", "sweep.toml", "--out", str(out)],
        cwd=tmp_path,
        env={**os.environ, "SITING_CACHE_DIR": str(tmp_path / "cold-cache")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until a worker is writing a scenario's folder
        if out.is_dir() and [f for f in out.iterdir() if ".partial-" in f.name]:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    else:
        pytest.fail("no scenario started writing")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    if out.exists():  # what had finished stays (a rerun skips it), nothing partial
        left = [f for f in out.iterdir() if f.name != MARKER]
        assert left and not [f for f in left if ".partial-" in f.name or ".old-" in f.name]
        folders = [f for f in left if f.is_dir()]
        assert all((f / "kpis.json").is_file() for f in folders), folders
        if (out / "results.csv").exists():
            assert len((out / "results.csv").read_text().splitlines()) >= 2
    else:
        assert not (tmp_path / "made").exists()
