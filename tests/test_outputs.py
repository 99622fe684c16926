"""Output folders: readable like any file the user writes, and swapped whole (issue 15)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from siting._outdir import MARKER, atomic_dir
from tests.conftest import small_scenario_text


def _write_at_once(dest: Path) -> list[BaseException]:
    """Two threads write ``dest`` through atomic_dir and reach the swap together."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(tag: str) -> None:
        try:
            with atomic_dir(dest) as tmp:
                for name in ("a.txt", "b.txt", "c.txt"):
                    (tmp / name).write_text(tag)
                barrier.wait(timeout=10)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_runs_into_one_folder_at_once_leave_one_whole(tmp_path: Path) -> None:
    """Two writers reach the swap at the same moment, many times: every time both
    succeed and the folder holds all of one writer's files and nothing of the other's."""
    dest = tmp_path / "out"
    for _ in range(25):
        assert _write_at_once(dest) == []
        files = [p for p in dest.iterdir() if p.name != MARKER]
        texts = {p.read_text() for p in files}
        assert len(texts) == 1
        assert sorted(p.name for p in files) == ["a.txt", "b.txt", "c.txt"]
        assert json.loads((dest / MARKER).read_text()) == {"kind": "run"}
        assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left over


@pytest.mark.parametrize(
    ("umask", "folder", "file"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)]
)
def test_outputs_follow_the_umask(
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    umask: int,
    folder: int,
    file: int,
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(small_scenario_text(data_dir, small_area_file, p=6))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "siting.cli", "run", str(scenario), "--out", str(out), "-q"],
        env={**os.environ, "SITING_CACHE_DIR": str(cache_dir)},
        preexec_fn=lambda: os.umask(umask),  # the child's umask only
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # -q: nothing on success
    assert stat.S_IMODE(out.stat().st_mode) == folder
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == file, path.name
    assert json.loads((out / "kpis.json").read_text())["stations"] == 6
