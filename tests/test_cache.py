"""Caches of the graph, the demand layers and the travel times: used when their
inputs are unchanged, rebuilt (with a warning) when a file is damaged."""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from siting import _cache, pipeline
from siting._cache import CacheWarning
from siting.cli import main
from siting.pipeline import prepare
from siting.scenario import load_scenario

KINDS = ("graph", "demand", "travel")


def _entries(root: Path) -> dict[str, Path]:
    found = {k: sorted((root / k).glob(f"{k}-*.pkl")) for k in KINDS}
    assert all(len(v) == 1 for v in found.values()), found
    return {k: v[0] for k, v in found.items()}


def _same(a: pipeline.Inputs, b: pipeline.Inputs) -> None:
    assert sorted(a.graph.nodes) == sorted(b.graph.nodes)
    assert a.cells["h3"].tolist() == b.cells["h3"].tolist()
    assert np.allclose(a.parts["pop"].to_numpy(), b.parts["pop"].to_numpy())
    assert a.candidates["node"].tolist() == b.candidates["node"].tolist()
    ma, mb = a.travel.matrix, b.travel.matrix
    assert ma.shape == mb.shape
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(ma, part), getattr(mb, part))


@pytest.fixture()
def primed(small_scenario: Path, tmp_path: Path) -> tuple[pipeline.Inputs, Path]:
    root = tmp_path / "cache"
    return prepare(load_scenario(small_scenario), cache_dir=root), root


def _no_rebuild(monkeypatch: pytest.MonkeyPatch, *kinds: str) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("the cache should have been used")

    targets = {
        "graph": ("siting.network.graph_from_file", boom),
        "demand": ("siting.cells._read_layers", boom),
        "travel": ("siting.travel.travel_times", boom),
    }
    for kind in kinds:
        monkeypatch.setattr(*targets[kind])


def test_every_stage_cache_is_used(
    primed: tuple[pipeline.Inputs, Path], small_scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, root = primed
    _entries(root)
    _no_rebuild(monkeypatch, *KINDS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        again = prepare(load_scenario(small_scenario), cache_dir=root)
    _same(first, again)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "garbage", "empty"])
def test_damaged_cache_is_reported_and_rebuilt(
    primed: tuple[pipeline.Inputs, Path],
    small_scenario: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    damage: str,
) -> None:
    first, root = primed
    path = _entries(root)[kind]
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        i = len(data) - 1000
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x05not a pickle at all" * 10)
    else:
        path.write_bytes(b"")
    # the undamaged stages still come from the cache
    _no_rebuild(monkeypatch, *(k for k in KINDS if k != kind))
    with pytest.warns(CacheWarning, match=rf"{kind} cache .*{path.name}.* unreadable") as rec:
        again = prepare(load_scenario(small_scenario), cache_dir=root)
    assert len([w for w in rec if issubclass(w.category, CacheWarning)]) == 1
    _same(first, again)
    # rewritten whole: the next read is silent
    key = _entries(root)[kind].stem.split("-", 1)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert _cache.load(root, kind, key) is not None


def test_changed_input_gets_a_new_entry(
    primed: tuple[pipeline.Inputs, Path], small_scenario: Path
) -> None:
    _, root = primed
    before = _entries(root)
    text = small_scenario.read_text()
    assert "cutoff_min = 20" in text
    small_scenario.write_text(text.replace("cutoff_min = 20", "cutoff_min = 25"))
    prepare(load_scenario(small_scenario), cache_dir=root)
    travel = sorted((root / "travel").glob("travel-*.pkl"))
    assert len(travel) == 2 and before["travel"] in travel
    # graph and demand entries unchanged
    for kind in ("graph", "demand"):
        assert sorted((root / kind).glob("*.pkl")) == [before[kind]]


def test_entry_of_another_key_is_refused(tmp_path: Path) -> None:
    _cache.save(tmp_path, "travel", "aaaa", {"x": 1})
    assert _cache.load(tmp_path, "travel", "aaaa") == {"x": 1}
    _cache.entry_path(tmp_path, "travel", "aaaa").rename(
        _cache.entry_path(tmp_path, "travel", "bbbb")
    )
    with pytest.warns(CacheWarning, match="another key"):
        assert _cache.load(tmp_path, "travel", "bbbb") is None
    assert not _cache.entry_path(tmp_path, "travel", "bbbb").exists()


@pytest.fixture()
def silenced_warnings_logger() -> Iterator[None]:
    """What a dependency did in the trial: a NullHandler on ``py.warnings``."""
    warned = logging.getLogger("py.warnings")
    null = logging.NullHandler()
    warned.addHandler(null)
    yield
    warned.removeHandler(null)


def test_a_damaged_cache_is_on_the_console_and_in_the_run_log(
    primed: tuple[pipeline.Inputs, Path],
    small_scenario: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    silenced_warnings_logger: None,
) -> None:
    _, root = primed
    path = _entries(root)["travel"]
    path.write_bytes(path.read_bytes()[:100])
    monkeypatch.setenv("SITING_CACHE_DIR", str(root))
    out = tmp_path / "out"
    assert main(["run", str(small_scenario), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert re.search(rf"WARNING py\.warnings: .*travel cache .*{path.name}.* unreadable", err), err
    assert re.search(rf"travel cache .*{path.name}.* unreadable", (out / "run.log").read_text())
    # and -q keeps the console quiet
    path.write_bytes(b"")
    assert main(["run", str(small_scenario), "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert "unreadable" in (out / "run.log").read_text()


@pytest.mark.parametrize("how", ["a file", "read-only"])
def test_a_cache_that_cannot_be_written_is_a_warning(
    small_scenario: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    cache = tmp_path / "cache"
    if how == "a file":
        cache.write_text("not a folder")
    else:
        cache.mkdir()
        cache.chmod(0o555)
        if os.access(cache, os.W_OK):
            pytest.skip("running as root: permissions do not hold")
    monkeypatch.setenv("SITING_CACHE_DIR", str(cache))
    out = tmp_path / "out"
    try:
        assert main(["run", str(small_scenario), "--out", str(out)]) == 0
    finally:
        cache.chmod(0o755)
    err = capsys.readouterr().err
    assert re.search(r"graph cache: cannot write .*; going on without it", err), err
    assert "cannot write" in (out / "run.log").read_text()
    assert (out / "sites.csv").exists()


def test_an_internal_error_names_a_log_that_exists_when_the_cache_cannot_hold_it(
    small_scenario: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    monkeypatch.setenv("SITING_CACHE_DIR", str(cache))

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("evaluation exploded")

    monkeypatch.setattr("siting.evaluate.evaluate_plan", broken)
    assert main(["run", str(small_scenario), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    where = re.search(r"the log and traceback are in (\S+\.log)$", err, re.M)
    assert where, err
    assert Path(where.group(1)).is_file()
    assert "evaluation exploded" in Path(where.group(1)).read_text()
