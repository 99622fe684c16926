"""Shared fixtures: a small clip of the real Almaty extract, built at test time."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from siting import settings

# CI explores the same examples on every run (a failure is reproducible from the log);
# locally hypothesis keeps exploring new ones and remembers failures in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent

# Central Almaty, about 6.5 km × 5.5 km: Almaly and parts of Bostandyq, Auezov, Medeu.
SMALL_BBOX = (76.89, 43.215, 76.97, 43.265)  # lon_min, lat_min, lon_max, lat_max


def _data_dir() -> Path:
    env = os.environ.get(settings.DATA_DIR_ENV)
    path = Path(env) if env else ROOT.parent / "shared" / "data" / "almaty"
    if not (path / "roads" / "almaty-osm-2012.osm.pbf").exists():
        pytest.fail(f"Almaty reference data not found at {path}; set {settings.DATA_DIR_ENV}")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared offline Almaty data folder."""
    return _data_dir()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder private to this test session."""
    path = tmp_path_factory.mktemp("cache")
    os.environ[settings.CACHE_DIR_ENV] = str(path)
    return path


@pytest.fixture(scope="session")
def small_area_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GeoJSON polygon of the small test area."""
    x0, y0, x1, y1 = SMALL_BBOX
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "test area"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = tmp_path_factory.mktemp("area") / "area.geojson"
    path.write_text(json.dumps(fc))
    return path


#: Candidates and travel settings of the test scenarios (``{data_dir}`` left to the
#: scenario reader).
SITES = """[candidates]
grid_spacing_m = 800
existing = "{data_dir}/stations/ocm-146017-supercharger.json"

[travel]
cutoff_min = 20
"""


def scenario_head(data_dir: Path, area: Path, *, name: str = "small", demand: str = "") -> str:
    """The network and demand layers of a scenario on the test area (absolute paths);
    ``demand`` adds lines to the ``[demand]`` table."""
    return f"""
name = "{name}"
data_dir = "{data_dir}"

[network]
source = "file"
osm_file = "{{data_dir}}/roads/almaty-osm-2012.osm.pbf"
boundary = "{area}"
buffer_m = 300

[demand]
h3_resolution = 8
population = "{{data_dir}}/population/residents-500m-proxy.geojson"
population_column = "population_estimate_final"
jobs = "{{data_dir}}/population/jobs-h3r9.geojson"
jobs_column = "emp"
districts = "{{data_dir}}/boundaries/districts.geojson"
district_column = "name"
{demand}"""


def small_scenario_text(data_dir: Path, area: Path, *, p: int = 8, extra: str = "") -> str:
    """TOML of a small scenario on the test area (absolute paths)."""
    return (
        scenario_head(data_dir, area)
        + f"""
[demand.residents]
count = 615000
public_share = 0.5
sessions_per_ev_day = 0.3
kwh_per_session = 25

[demand.inbound]
count = 400000
public_share = 0.3
sessions_per_ev_day = 0.5
kwh_per_session = 20
corridor_share = 0.1

[demand.taxis]
count = 80000
public_share = 0.8
sessions_per_ev_day = 1.5
kwh_per_session = 30

{SITES}
[optimize]
p = {p}
threshold_min = 3
time_limit_s = 60
{extra}
"""
    )


@pytest.fixture()
def small_scenario(tmp_path: Path, data_dir: Path, small_area_file: Path, cache_dir: Path) -> Path:
    """A small scenario file in a fresh temporary folder."""
    path = tmp_path / "small.toml"
    path.write_text(small_scenario_text(data_dir, small_area_file))
    return path


@pytest.fixture(scope="session")
def small_graph(data_dir: Path, small_area_file: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    """The finished drive graph of the small area (built once per session)."""
    import geopandas as gpd

    from siting.network import NetworkSource, build_network

    area = gpd.read_file(small_area_file).union_all()
    return build_network(
        NetworkSource(osm_file=data_dir / "roads" / "almaty-osm-2012.osm.pbf"),
        area,
        buffer_m=300,
        cache_dir=cache_dir,
    )


def _run_to_disk(folder: Path, name: str, text: str, cache_dir: Path):  # type: ignore[no-untyped-def]
    """Write scenario ``text`` as ``name``.toml in ``folder`` and run it into ``folder/out``."""
    from siting.pipeline import run
    from siting.scenario import load_scenario

    path = folder / f"{name}.toml"
    path.write_text(text.replace('name = "small"', f'name = "{name}"'))
    out = folder / "out"
    return run(load_scenario(path), out, cache_dir=cache_dir), out


@pytest.fixture(scope="session")
def small_run(
    data_dir: Path, small_area_file: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
):  # type: ignore[no-untyped-def]
    """One end-to-end run of the small scenario, written to disk."""
    text = small_scenario_text(data_dir, small_area_file)
    return _run_to_disk(tmp_path_factory.mktemp("run"), "small", text, cache_dir)


@pytest.fixture(scope="session")
def small_run_mclp(
    data_dir: Path, small_area_file: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
):  # type: ignore[no-untyped-def]
    """A second small run to compare with: covering model, 10 stations, a curve of sizes."""
    text = small_scenario_text(
        data_dir, small_area_file, p=10, extra='model = "mclp"\ncurve = [4, 6]'
    )
    return _run_to_disk(tmp_path_factory.mktemp("run-mclp"), "small-mclp", text, cache_dir)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Name the random test order (pytest-randomly), also under ``-q``, so that a
    failure that depends on the order can be run again in the same order."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None:
        terminalreporter.write_line(f"test order: pytest -p randomly --randomly-seed={seed}")
