"""Caches of the graph, the demand layers and the travel times: used when their
inputs are unchanged, rebuilt (with a warning) when a file is damaged."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from siting import _cache, pipeline
from siting._cache import CacheWarning
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
