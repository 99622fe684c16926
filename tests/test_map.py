"""The map: self-contained HTML, checked in real headless Chromium with no network."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from siting._assets import external_assets, inline_assets
from siting.errors import SitingError
from tests.browser import inspect_map

ARTIFACTS = Path(__file__).resolve().parent.parent / "out" / "test-artifacts"


def test_map_links_nothing_external(small_run) -> None:  # type: ignore[no-untyped-def]
    _, out = small_run
    html = (out / "map.html").read_text()
    assert external_assets(html) == []
    assert "cdn.jsdelivr.net" not in html and "cdnjs.cloudflare.com" not in html
    assert "L.version" in html or "Leaflet" in html


def test_unknown_asset_is_refused() -> None:
    page = '<script src="https://example.org/plugin.js"></script>'
    with pytest.raises(SitingError, match="no offline copy"):
        inline_assets(page)


@pytest.mark.browser
def test_small_map_in_headless_chromium(small_run) -> None:  # type: ignore[no-untyped-def]
    result, out = small_run
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "small-map.png"
    info = inspect_map(out / "map.html", shot)
    sites = pd.read_csv(out / "sites.csv")
    assert info["leaflet"] == "1.9.3"
    assert info["maps"] == 1
    assert info["stations"] == len(sites) == result.scenario.optimize.p
    assert info["existing"] == (sites["status"] == "existing").sum()
    assert info["existing_on_top"]  # drawn after (above) every new station
    assert info["errors"] == []
    new = sites[sites["status"] == "new"]
    by_type = [f"New stations: {t} ({n})" for t, n in new["station_type"].value_counts().items()]
    assert sum(new["station_type"].value_counts()) == len(sites) - 1
    expected = [
        "OpenStreetMap",
        "Plain (no tiles)",
        # the run's own main streets, to orient by when the tiles cannot load
        "Streets: main roads (offline)",
        "Districts: share served",
        "Demand: all segments (sessions/day)",
        "Demand: residents",
        "Demand: inbound",
        "Demand: taxis",
        # each segment's sessions the plan leaves unserved
        "Unserved: residents (sessions/day)",
        "Unserved: inbound (sessions/day)",
        "Unserved: taxis (sessions/day)",
        "Served areas (within 3 min)",
        *by_type,
        "Existing stations (1)",
        # above the demand cells and the stations
        "District names and share served",
    ]
    assert info["layers"] == expected
    assert info["panel"] and info["legend"]
    assert shot.stat().st_size > 10_000


@pytest.mark.browser
@pytest.mark.slow
def test_almaty_default_run_and_map(tmp_path: Path, cache_dir: Path) -> None:
    """The Almaty default: 312 unique stations on the graph (311 new, 1 existing), all
    drawn on the map."""
    from siting import settings
    from siting.pipeline import run
    from siting.scenario import load_scenario

    out = tmp_path / "almaty"
    result = run(load_scenario(settings.DEFAULT_SCENARIO), out, cache_dir=cache_dir)
    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == 312 and sites["site_id"].is_unique
    assert not sites.duplicated(["lat", "lon"]).any()
    assert set(sites["node"]) <= set(result.graph.nodes)
    assert result.kpis["solver"]["status"] in ("optimal", "feasible")
    assert (out / "map.html").stat().st_size < 15 * 1024 * 1024
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    info = inspect_map(out / "map.html", ARTIFACTS / "almaty-map.png")
    assert info["stations"] == 312
    assert info["existing"] == 1
    assert info["leaflet"] == "1.9.3"
    assert info["errors"] == []
    assert "Districts: share served" in info["layers"]
    assert info["panel"] and info["legend"]
