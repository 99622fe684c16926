"""Each user group served by its own standard (issue 29): demand covered and served per
segment, computed once (:func:`siting.metrics.segment_figures`) and shown in the summary,
kpis.json, districts.csv, the map's panel and ``siting compare``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from siting._map_text import kpi_panel
from siting.cli import main
from siting.segment_figures import SEGMENT_ASSUMPTION, segment_figures
from siting.segments import Segment
from siting.summary import summary


class _Reach:
    """Travel times reduced to what :func:`segment_figures` asks: the pairs within the
    threshold (demand points × candidate sites)."""

    def __init__(self, pairs: list[list[bool]]) -> None:
        self.pairs = sp.csr_array(np.array(pairs, dtype=bool))

    def neighbours(self, threshold_s: float) -> sp.csr_array:
        return self.pairs


SEGMENTS = {
    "residents": Segment("residents", 100, 1.0, 1.0, 1.0, 25.0, "AC"),
    "inbound": Segment("inbound", 100, 1.0, 1.0, 1.0, 20.0, "AC"),
    "taxis": Segment("taxis", 100, 1.0, 1.0, 1.0, 30.0, "DC"),
}


def _points() -> pd.DataFrame:
    # point 0: residents 6, inbound 2, taxis 4; point 1: residents 10 only
    return pd.DataFrame(
        {
            "residents_sessions_day": [6.0, 10.0],
            "inbound_sessions_day": [2.0, 0.0],
            "taxis_sessions_day": [4.0, 0.0],
        }
    )


def test_served_is_split_among_segments_by_their_demand_at_the_point() -> None:
    # two AC segments share point 0's 4 AC sessions served 6:2 (3 and 1); its DC
    # session goes to taxis; point 1's 5 AC sessions are all residents'
    figures, per_point = segment_figures(
        _points(),
        SEGMENTS,
        _Reach([[True, True], [True, False]]),  # type: ignore[arg-type]
        np.array([0, 1]),
        threshold_s=300,
        types=np.array(["AC", "DC"]),
        served_ac=np.array([4.0, 5.0]),
        served_dc=np.array([1.0, 0.0]),
    )
    assert per_point["residents_served"].tolist() == pytest.approx([3.0, 5.0])
    assert per_point["inbound_served"].tolist() == pytest.approx([1.0, 0.0])
    assert per_point["taxis_served"].tolist() == pytest.approx([1.0, 0.0])
    rows = figures["by_segment"]
    assert rows["residents"]["served_sessions_day"] == pytest.approx(8.0)
    assert rows["residents"]["served_share"] == pytest.approx(0.5)
    assert rows["inbound"]["served_share"] == pytest.approx(0.5)
    assert rows["taxis"]["served_share"] == pytest.approx(0.25)
    assert rows["taxis"]["served_kwh_day"] == pytest.approx(30.0)
    assert rows["residents"]["served_kwh_day"] == pytest.approx(200.0)
    total = sum(r["served_sessions_day"] for r in rows.values())
    assert total == pytest.approx(4 + 5 + 1)
    assert figures["assumption"] == SEGMENT_ASSUMPTION


def test_a_dc_segment_is_not_covered_by_an_ac_station() -> None:
    reach = _Reach([[True, False], [True, False]])  # only site 0 in reach, an AC station
    figures, per_point = segment_figures(
        _points(),
        SEGMENTS,
        reach,  # type: ignore[arg-type]
        np.array([0, 1]),
        threshold_s=300,
        types=np.array(["AC", "DC"]),
        served_ac=np.array([8.0, 10.0]),
        served_dc=np.array([0.0, 0.0]),
    )
    rows = figures["by_segment"]
    assert rows["residents"]["covered_share"] == 1.0
    assert rows["inbound"]["covered_share"] == 1.0
    assert rows["taxis"]["covered_sessions_day"] == 0.0
    assert per_point["taxis_covered"].sum() == 0.0
    # without station types (mclp, pmedian) any station covers, and served = covered
    figures, per_point = segment_figures(
        _points(),
        SEGMENTS,
        reach,  # type: ignore[arg-type]
        np.array([0]),
        threshold_s=300,
    )
    rows = figures["by_segment"]
    assert rows["taxis"]["covered_share"] == 1.0
    assert all(r["served_sessions_day"] == r["covered_sessions_day"] for r in rows.values())
    assert "served = covered" in figures["assumption"]


@pytest.mark.parametrize("which", ["small_run", "small_run_mclp"])
def test_segments_add_up_to_the_plan_in_every_output(which: str, request) -> None:  # type: ignore[no-untyped-def]
    run, out = request.getfixturevalue(which)
    kpis = json.loads((out / "kpis.json").read_text())
    block = kpis["segments"]
    assert set(block) >= {"basis", "assumption", "note", "by_segment"}
    rows = block["by_segment"]
    assert list(rows) == list(kpis["demand"]["segments"])
    for name, r in rows.items():
        assert r["demand_sessions_day"] == pytest.approx(
            kpis["demand"]["segments"][name]["sessions_day"], abs=0.01
        )
        assert r["served_sessions_day"] <= r["covered_sessions_day"] + 1e-6
        assert r["served_kwh_day"] == pytest.approx(
            r["served_sessions_day"] * r["kwh_per_session"], abs=0.1
        )
    served = sum(r["served_sessions_day"] for r in rows.values())
    assert served == pytest.approx(kpis["demand_served"], abs=0.01)
    demand = sum(r["demand_sessions_day"] for r in rows.values())
    assert demand == pytest.approx(kpis["demand_total"], abs=0.01)
    if "benefits" in kpis and "served" in kpis:  # the same energy as the benefits'
        energy = sum(r["served_kwh_day"] for r in rows.values())
        assert energy == pytest.approx(kpis["benefits"]["energy_kwh_day"], abs=0.5)

    districts = pd.read_csv(out / "districts.csv")
    for name, r in rows.items():
        col = f"{name}_served_sessions_day"
        assert districts[col].sum() == pytest.approx(r["served_sessions_day"], abs=0.01)
        share = districts[f"{name}_served_share"].dropna()
        assert ((share >= 0) & (share <= 1 + 1e-6)).all()

    text = summary(run.kpis)
    assert "served by segment" in text
    for name, r in rows.items():
        assert f"    {name} ({r['charger']}): " in text
    assert block["note"] in text

    panel = kpi_panel("plan", run.kpis)
    for name in rows:
        assert f"Served: {name} (" in panel
    assert "siting-panel-note" in panel


def test_compare_shows_segments_and_reads_an_older_run(small_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, out = small_run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    kpis = json.loads((old / "kpis.json").read_text())
    del kpis["segments"]
    (old / "kpis.json").write_text(json.dumps(kpis))
    districts = pd.read_csv(old / "districts.csv")
    districts.drop(columns=[c for c in districts if "_served_s" in c]).to_csv(
        old / "districts.csv", index=False
    )
    cmp_out = tmp_path / "cmp"
    assert (
        main(["compare", str(out), str(old), "--names", "new", "old", "--out", str(cmp_out), "-q"])
        == 0
    )
    summary = pd.read_csv(cmp_out / "summary.csv", index_col="figure")
    new = json.loads((out / "kpis.json").read_text())["segments"]["by_segment"]
    for name, r in new.items():
        row = f"share served: {name} (%)"
        assert float(summary.at[row, "new"]) == pytest.approx(100 * r["served_share"], abs=0.006)
        assert pd.isna(summary.at[row, "old"])
        assert pd.isna(summary.at[f"served: {name} (sessions/day)", "old"])
    md = (cmp_out / "comparison.md").read_text()
    assert "| share served: taxis (%) |" in md
    line = next(x for x in md.splitlines() if x.startswith("| share served: taxis (%) |"))
    assert line.rstrip().endswith("| — |")


def test_compare_prints_each_segment(small_run, small_run_mclp, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (_, a), (_, b) = small_run, small_run_mclp
    assert (
        main(["compare", str(a), str(b), "--names", "cap", "mclp", "--out", str(tmp_path / "c")])
        == 0
    )
    printed = capsys.readouterr().out
    for name in ("residents", "inbound", "taxis"):
        assert f"share served: {name} (%)" in printed
