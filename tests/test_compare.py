"""`siting compare` on two real runs: every figure checked against the runs' own outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from siting._outdir import MARKER
from siting.cli import main
from tests.browser import inspect_map

ARTIFACTS = Path(__file__).resolve().parent.parent / "out" / "test-artifacts"


@pytest.fixture(scope="module")
def compared(small_run, small_run_mclp, tmp_path_factory):  # type: ignore[no-untyped-def]
    (_, a), (_, b) = small_run, small_run_mclp
    out = tmp_path_factory.mktemp("compare") / "cmp"
    assert main(["compare", str(a), str(b), "--names", "cap", "mclp", "--out", str(out), "-q"]) == 0
    return a, b, out


def test_compare_writes_every_output(compared) -> None:  # type: ignore[no-untyped-def]
    _, _, out = compared
    names = {f.name for f in out.iterdir()}
    assert names == {
        "summary.csv",
        "districts.csv",
        "stations.csv",
        "comparison.md",
        "comparison.png",
        "comparison_map.html",
        "comparison.html",
        MARKER,
    }
    html = (out / "comparison.html").read_text()
    assert "data:image/png;base64," in html and "comparison_map.html" in html
    md = (out / "comparison.md").read_text()
    assert "## Key figures" in md and "| share served (%) |" in md and "## Districts" in md
    # the two shares defined where they are read, in the words of the map's panel
    from siting.metrics import SHARES

    for name, meaning in SHARES.items():
        assert f"- **{name}**: {meaning}" in md
        assert meaning.replace("'", "&#x27;") in html
    assert (out / "comparison.png").stat().st_size > 20_000


def test_compare_figures_match_each_run(compared) -> None:  # type: ignore[no-untyped-def]
    a, b, out = compared
    summary = pd.read_csv(out / "summary.csv", index_col="figure")
    for name, folder in (("cap", a), ("mclp", b)):
        kpis = json.loads((folder / "kpis.json").read_text())
        sites = pd.read_csv(folder / "sites.csv")
        col = summary[name]
        assert int(col["stations"]) == len(sites) == kpis["stations"]
        assert int(col["existing stations"]) == kpis["stations_existing"]
        assert float(col["share served (%)"]) == pytest.approx(
            100 * kpis["served_share"], abs=0.006
        )
        assert float(col["share within threshold (%)"]) == pytest.approx(
            100 * kpis["coverage_share"], abs=0.006
        )
        assert float(col["mean access (min)"]) == pytest.approx(kpis["mean_access_min"], abs=0.006)
        assert float(col["95th pct access (min)"]) == pytest.approx(
            kpis["p95_access_min"], abs=0.006
        )
        assert col["solver status"] == kpis["solver"]["status"]
        assert col["model"] == kpis["solver"]["model"]
    # the capacitated run serves less than it covers; the covering run serves what it covers
    assert float(summary.at["share served (%)", "cap"]) < float(
        summary.at["share within threshold (%)", "cap"]
    )
    assert (
        summary.at["share served (%)", "mclp"] == summary.at["share within threshold (%)", "mclp"]
    )


def test_compare_districts_and_stations(compared) -> None:  # type: ignore[no-untyped-def]
    a, b, out = compared
    districts = pd.read_csv(out / "districts.csv").set_index("district")
    stations = pd.read_csv(out / "stations.csv")
    keys = {}
    for name, folder in (("cap", a), ("mclp", b)):
        own = pd.read_csv(folder / "districts.csv").set_index("district")
        assert districts[f"stations [{name}]"].to_dict() == own["stations"].to_dict()
        assert np.allclose(districts[f"share served (%) [{name}]"], 100 * own["served_share"])
        sites = pd.read_csv(folder / "sites.csv")
        keys[name] = set(zip(sites["lat"].round(5), sites["lon"].round(5), strict=True))
        assert stations[f"in [{name}]"].sum() == len(sites)
    counts = stations["membership"].value_counts().to_dict()
    common = keys["cap"] & keys["mclp"]
    assert counts.get("all", 0) == len(common) > 0
    assert counts.get("only cap", 0) == len(keys["cap"] - common)
    assert counts.get("only mclp", 0) == len(keys["mclp"] - common) >= 2  # 10 vs 8 stations
    assert len(stations) == len(keys["cap"] | keys["mclp"])


@pytest.mark.browser
def test_comparison_map_in_headless_chromium(compared) -> None:  # type: ignore[no-untyped-def]
    _, _, out = compared
    stations = pd.read_csv(out / "stations.csv")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    info = inspect_map(out / "comparison_map.html", ARTIFACTS / "comparison-map.png")
    assert info["errors"] == [] and info["legend"]
    assert info["stations"] == len(stations)
    assert info["existing"] == 0  # the comparison map marks groups, not status classes
    layers = " | ".join(info["layers"])
    counts = stations["membership"].value_counts()
    assert f"In all plans ({counts['all']})" in layers
    assert f"Only mclp ({counts['only mclp']})" in layers
    assert "Districts: change in share served (mclp − cap)" in layers


def test_compare_bad_input(small_run, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, a = small_run
    out = tmp_path / "cmp"
    cases = [
        ([str(a)], "expected at least 2 run folders"),
        ([str(a), str(tmp_path / "nope")], "not found"),
        ([str(a), str(tmp_path)], "not a siting run output (kpis.json, sites.csv"),
        ([str(a), str(a)], "run names must differ"),
        ([str(a), str(a), "--names", "x"], "--names: expected 2 names"),
    ]
    for args, message in cases:
        assert main(["compare", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
