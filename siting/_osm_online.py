"""OSMnx's online services: the place geocoded, OSM features downloaded, and the one
download helper and settings switch that the road graph's online sources
(:func:`siting.network.build_network`) use too.

:class:`OnlineOptions` names the services; :func:`osmnx_online` points OSMnx at them
for one download; :func:`download` turns a failed download into a
:class:`~siting.errors.NetworkError`. The public names are exported from
:mod:`siting.network`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from siting import settings
from siting._io import WGS84
from siting.errors import InputError, NetworkError

T = TypeVar("T")


@dataclass(frozen=True)
class OnlineOptions:
    """Where OSMnx downloads from (``None`` keeps OSMnx's public defaults)."""

    overpass_url: str | None = None
    nominatim_url: str | None = None
    timeout_s: float = 180.0


def geocode_place(
    place: str, *, online: OnlineOptions | None = None, cache_dir: Path | None = None
) -> Polygon | MultiPolygon:
    """The boundary polygon of a place name, from Nominatim through OSMnx."""
    import osmnx as ox  # here, not at the top: a warm run never needs it (1.2 s)

    with osmnx_online(online or OnlineOptions(), cache_dir or settings.cache_dir()):
        gdf = download(lambda: ox.geocode_to_gdf(place), place)
    return as_polygon(gdf.union_all(), "network.place")


def download_features(
    polygon: BaseGeometry,
    tags: dict[str, bool | str | list[str]],
    *,
    what: str,
    online: OnlineOptions | None = None,
    cache_dir: Path | None = None,
) -> gpd.GeoDataFrame:
    """OSM features with ``tags`` inside ``polygon``, from Overpass through OSMnx.

    An empty frame when the area has none; a failed download is a
    :class:`~siting.errors.NetworkError` naming ``what``.
    """
    import osmnx as ox  # here, not at the top: only online runs need it

    poly = as_polygon(polygon, "network.boundary")

    def fetch() -> gpd.GeoDataFrame:
        try:
            return ox.features_from_polygon(poly, tags=tags)
        except ox._errors.InsufficientResponseError:  # no such feature in the area
            return gpd.GeoDataFrame(geometry=[], crs=WGS84)

    with osmnx_online(online or OnlineOptions(), cache_dir or settings.cache_dir()):
        return download(fetch, what)


def as_polygon(geom: BaseGeometry, field: str) -> Polygon | MultiPolygon:
    """``geom`` if it is a (multi)polygon; an :class:`~siting.errors.InputError` naming
    ``field`` if not."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    raise InputError(f"{field}: expected a polygon or multipolygon, got a {geom.geom_type}")


@contextmanager
def osmnx_online(online: OnlineOptions, cache_root: Path) -> Iterator[None]:
    """Point OSMnx at the chosen services for one download, then restore its settings."""
    import osmnx as ox  # here, not at the top: a warm run never needs it (1.2 s)

    names = ("overpass_url", "nominatim_url", "requests_timeout", "cache_folder", "use_cache")
    saved = {n: getattr(ox.settings, n) for n in names}
    try:
        if online.overpass_url:
            ox.settings.overpass_url = online.overpass_url
        if online.nominatim_url:
            ox.settings.nominatim_url = online.nominatim_url
        ox.settings.requests_timeout = online.timeout_s
        ox.settings.cache_folder = cache_root / "osmnx-http"
        ox.settings.use_cache = True
        yield
    finally:
        for n, v in saved.items():
            setattr(ox.settings, n, v)


def download(fetch: Callable[[], T], what: str) -> T:
    """``fetch()``; a failed download is a :class:`~siting.errors.NetworkError` naming
    ``what``."""
    try:
        return fetch()
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NetworkError(
            f"network: downloading OSM data for {what} failed ({type(exc).__name__}: {text}); "
            "to work offline use network.source = 'file' with a local OSM extract"
        ) from None
