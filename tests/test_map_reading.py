"""A map that reads in a minute: district labels above the demand, the two shares
explained, money with its currency, stations that can be told apart, distinct colours
in the comparison map, and the run's own streets when the tiles cannot load; the last
checked in real headless Chromium with no network."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from siting._map_text import kpi_panel, share_note, station_popup
from siting.compare_views import BOTH_COLOR, RUN_COLORS, group_colors
from siting.maps import district_labels, road_layer
from tests.browser import inspect_map

ARTIFACTS = Path(__file__).resolve().parent.parent / "out" / "test-artifacts"


def _graph() -> nx.MultiDiGraph:
    """Four nodes on a line and a side street: a two-way primary road (both ways), a
    secondary one way, a residential street and a primary link."""
    g = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (x, y) in enumerate([(76.90, 43.20), (76.91, 43.20), (76.92, 43.20), (76.92, 43.21)]):
        g.add_node(n, x=x, y=y)
    g.add_edge(0, 1, highway="primary", length=800.0)
    g.add_edge(1, 0, highway="primary", length=800.0)
    g.add_edge(1, 2, highway=["residential", "secondary"], length=800.0)
    g.add_edge(2, 3, highway="residential", length=1100.0)
    g.add_edge(
        3,
        0,
        highway="primary_link",
        length=2000.0,
        geometry=LineString([(76.92, 43.21), (76.91, 43.215), (76.90, 43.20)]),
    )
    return g


def test_road_layer_keeps_main_roads_once_each() -> None:
    layer = road_layer(_graph())
    assert layer is not None
    features = layer.data["features"]
    assert {f["properties"]["road"] for f in features} == {"primary", "secondary"}
    primary = next(f for f in features if f["properties"]["road"] == "primary")
    # both directions of the two-way street drawn once
    assert primary["geometry"]["type"] == "LineString"
    assert [list(xy) for xy in primary["geometry"]["coordinates"]] == [[76.9, 43.2], [76.91, 43.2]]
    assert layer.options["pane"] == "siting-roads" and layer.options["interactive"] is False


def test_road_layer_of_a_graph_without_main_roads_is_none() -> None:
    g = _graph()
    g.remove_edges_from([(0, 1), (1, 0), (1, 2)])
    assert road_layer(g) is None


def test_district_labels_carry_name_and_share() -> None:
    districts = gpd.GeoDataFrame(
        {"name": ["Almaly", "Medeu <1>"]},
        geometry=[box(76.90, 43.20, 76.95, 43.25), box(76.95, 43.20, 77.0, 43.25)],
        crs="EPSG:4326",
    )
    figures = pd.DataFrame({"district": ["Almaly"], "served_share": [0.4567]})
    group = district_labels(districts, "name", figures)
    labels = [c for c in group._children.values()]
    assert len(labels) == 2
    html = [label.icon.options["html"] for label in labels]  # type: ignore[attr-defined]
    assert "Almaly" in html[0] and "45.7% served" in html[0]
    assert "Medeu &lt;1&gt;" in html[1] and "served" not in html[1]
    assert labels[0].options["pane"] == "siting-labels"  # type: ignore[attr-defined]
    assert labels[0].location == pytest.approx([43.225, 76.925])  # type: ignore[attr-defined]


def test_panel_explains_the_two_shares() -> None:
    kpis = {
        "threshold_min": 5.0,
        "coverage_share": 0.927,
        "served_share": 0.361,
        "solver": {"model": "capacitated"},
        "segments": {"by_segment": {"taxis": {"max_trip_min": 10.0}}},
    }
    note = share_note(kpis)
    assert "<b>Within reach</b>" in note and "<b>Served</b>" in note
    assert "≤ 5 min; by group: taxis 10 min" in note and "capacity" in note
    panel = kpi_panel("plan", {k: v for k, v in kpis.items() if k != "segments"})
    assert "Within reach (≤ 5 min)</td><td><b>92.7%" in panel
    assert "Served</td><td><b>36.1%" in panel
    covering = share_note({**kpis, "solver": {"model": "mclp"}})
    assert "equal to within reach" in covering


def test_popup_money_has_currency_and_separators() -> None:
    row = {
        "site_id": "grid-43.2-76.9",
        "existing": False,
        "kind": "grid",
        "lat": 43.2,
        "lon": 76.9,
        "capital_cost": 8004890.0,
        "revenue_year": 12345678.9,
        "margin_year": 2345678.0,
        "payback_years": 3.2,
        "npv_lease": -1234567.0,
        "pays_back": True,
    }
    text = station_popup(row, currency="KZT")
    assert "Capital cost: 8,004,890 KZT" in text
    assert "Revenue: 12,345,679 KZT/yr" in text and "NPV over the lease: -1,234,567 KZT" in text
    assert "8004890" not in text


def test_comparison_groups_have_distinct_colours() -> None:
    names = ["a", "b", "c"]
    groups = ["all", "only a", "only b", "only c", "a+b", "a+c", "b+c"]
    colors = group_colors(groups, names)
    assert len(set(colors.values())) == len(groups)
    assert colors["all"] == BOTH_COLOR and colors["only b"] == RUN_COLORS[1]


def test_small_map_money_and_numbers_formatted(small_run) -> None:  # type: ignore[no-untyped-def]
    _, out = small_run
    html = (out / "map.html").read_text()
    popups = re.findall(r"Capital cost: [^<]*", html)
    amount = r"Capital cost: \d{1,3}(,\d{3})*( [A-Z]{3})?( \(sunk\))?"
    assert popups and all(re.fullmatch(amount, p) for p in popups)
    # no bare amount such as 8004890.0 anywhere in the popups or the panel
    text = " ".join(re.findall(r'<div id="siting-panel".*?</div></div>', html, re.S) + popups)
    assert not re.search(r"\d{4,}\.\d", text)


#: What the browser test reads from the page (a JavaScript expression).
READING = """{
  labels: Array.from(document.querySelectorAll('.siting-district-label'))
      .map(e => e.textContent.trim()),
  labels_pane: (() => { const e = document.querySelector('.siting-district-label');
      return e ? e.closest('.leaflet-pane').className : null; })(),
  roads: document.querySelectorAll('.leaflet-siting-roads-pane path').length,
  outlines: document.querySelectorAll('.leaflet-siting-outlines-pane path').length,
  shares: (document.getElementById('siting-panel-shares') || {}).textContent || '',
  radii: Array.from(document.querySelectorAll('path.siting-station'))
      .map(p => p.getBBox().width),
}"""


@pytest.mark.browser
def test_small_map_reads_offline(small_run) -> None:  # type: ignore[no-untyped-def]
    _, out = small_run
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    info = inspect_map(out / "map.html", ARTIFACTS / "small-map-reading.png", extra=READING)
    assert info["errors"] == []
    got = info["extra"]
    districts = pd.read_csv(out / "districts.csv")
    shown = districts.dropna(subset=["served_share"])
    assert len(got["labels"]) >= len(shown) > 0
    labels = dict(
        re.fullmatch(r"(.+?)([\d.]+)% served", t).groups() for t in got["labels"] if "%" in t
    )  # type: ignore[union-attr]
    for name, share in zip(shown["district"], shown["served_share"], strict=True):
        assert float(labels[name]) == pytest.approx(100 * share, abs=0.051)
    assert "siting-labels" in got["labels_pane"]
    # offline: the tiles fail, so the streets layer stays on
    assert got["roads"] > 0 and got["outlines"] > 0
    assert "Within reach" in got["shares"] and "Served" in got["shares"]
    # zoomed out, stations are drawn smaller than their full size (at most 2 × 8 px)
    assert got["radii"] and max(got["radii"]) < 16
