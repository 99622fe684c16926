"""Plans across futures in a run (siting.futures.robust): the robust plan, each future's
own plan and regret, the sensitivity table and tornado, on a real Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from siting.cli import main
from tests.conftest import small_scenario_text

FUTURES = """
[futures]
presets = ["today", "growth-2030"]
draws = 2
seed = 3
criterion = "worst"
rationale = "test"
[futures.ranges]
"demand.residents.public_share" = [0.3, 0.7]
"demand.peak_hour_share" = [0.08, 0.14]
"""


def _run(tmp_path: Path, name: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / name
    code = main(["run", str(tmp_path / "futures.toml"), "--out", str(out), "-q", *args])
    assert code == 0, capsys.readouterr().err
    return out


def test_futures_on_dask_equal_the_serial_run(
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITING_CACHE_DIR", str(cache_dir))
    text = small_scenario_text(data_dir, small_area_file, p=10, extra="curve = []") + FUTURES
    (tmp_path / "futures.toml").write_text(text)
    serial = _run(tmp_path, "serial", ["--workers", "0"], capsys)
    dask = _run(tmp_path, "dask", ["--workers", "2"], capsys)
    futures = pd.read_csv(serial / "futures.csv")
    assert futures["future"].tolist() == ["preset:today", "preset:growth-2030", "draw:1", "draw:2"]
    # regret never negative; the robust plan's worst case at least every own plan's
    assert (futures["regret"] >= 0).all()
    kpis = json.loads((serial / "kpis.json").read_text())["futures"]
    robust = kpis["robust"]["objective"]
    assert robust == pytest.approx(futures["robust_share"].min(), abs=1e-6)
    assert (robust >= futures["own_worst_share"] - 1e-6).all()
    assert (futures["own_share"] >= futures["robust_share"] - 1e-6).all()
    # sites: counted over the futures' own plans; robust and plan flags match the files
    sites = pd.read_csv(serial / "futures_sites.csv", dtype={"site_id": str})
    assert sites["own_plans"].between(0, len(futures)).all()
    assert sites["robust"].sum() == kpis["robust"]["stations"] == 10
    plan = pd.read_csv(serial / "sites.csv", dtype={"site_id": str})
    assert set(sites.loc[sites["plan"], "site_id"]) == set(plan["site_id"])
    sens = pd.read_csv(serial / "sensitivity.csv")
    assert sorted(sens["assumption"].unique()) == [
        "demand.peak_hour_share",
        "demand.residents.public_share",
    ]
    assert sens["stations_kept"].between(0, 1).all()
    assert (serial / "tornado.png").stat().st_size > 0
    map_html = (serial / "map.html").read_text()
    assert "Sites in the futures&#x27; own plans" in map_html or "futures' own plans" in map_html
    # the same figures from the Dask workers
    for name in ("futures.csv", "futures_sites.csv", "sensitivity.csv"):
        a = pd.read_csv(serial / name)
        b = pd.read_csv(dask / name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-6)


def test_futures_need_the_capacitated_model(
    tmp_path: Path,
    data_dir: Path,
    small_area_file: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITING_CACHE_DIR", str(cache_dir))
    text = small_scenario_text(data_dir, small_area_file, extra='model = "mclp"') + FUTURES
    (tmp_path / "bad.toml").write_text(text)
    code = main(["run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "futures needs optimize.model = 'capacitated'" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "o").exists()
