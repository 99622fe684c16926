"""Private helpers of the demand layers: a layer's values split over zones."""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd

from siting.errors import DataFileError


def counts(layer: gpd.GeoDataFrame, column: str, *, field: str) -> pd.Series:
    """``layer[column]`` as numbers, which must all be present and non-negative."""
    values = pd.to_numeric(layer[column], errors="coerce")
    if values.isna().any():
        raise DataFileError(f"{field}: column {column!r} has non-numeric values")
    if (values < 0).any():
        raise DataFileError(f"{field}: column {column!r} has negative values")
    return values


def split(
    layer: gpd.GeoDataFrame, value: str, zones: gpd.GeoDataFrame, *, keep: list[str] | None = None
) -> gpd.GeoDataFrame:
    """Split ``layer[value]`` over ``zones``: by area for polygons, whole for points."""
    keep = keep or []
    zone_cols = [c for c in zones.columns if c != "geometry"]
    is_point = layer.geom_type.isin(["Point", "MultiPoint"])
    parts = []
    if is_point.any():
        pts = layer[is_point][[value, *keep, "geometry"]]
        joined = gpd.sjoin(pts, zones, how="inner", predicate="within").drop(columns="index_right")
        parts.append(joined[[*zone_cols, value, *keep, "geometry"]])
    if (~is_point).any():
        polys = layer[~is_point][[value, *keep, "geometry"]].copy()
        polys["_area"] = polys.geometry.area
        polys = polys[polys["_area"] > 0]
        inter = gpd.overlay(polys, zones, how="intersection", keep_geom_type=True)
        inter[value] = inter[value] * inter.geometry.area / inter["_area"]
        parts.append(inter[[*zone_cols, value, *keep, "geometry"]])
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=layer.crs)


def rescale(
    pieces: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, totals: pd.Series
) -> gpd.GeoDataFrame:
    """Scale the population ``pieces`` so that each district sums to its official
    total; a district with no population is filled uniformly over its area."""
    names = set(zones["district"])
    unknown = sorted(set(totals.index) - names)
    if unknown:
        raise DataFileError(
            f"demand.district_totals: district(s) {', '.join(unknown)} are not in the districts "
            f"layer (it has {', '.join(sorted(names))})"
        )
    missing = sorted(names - set(totals.index))
    if missing:
        warnings.warn(
            f"demand.district_totals has no figure for {', '.join(missing)}; their population "
            "pattern is used unscaled",
            UserWarning,
            stacklevel=3,
        )
    sums = pieces.groupby("district")["pop"].sum()
    extra = []
    for name, official in totals.items():
        have = float(sums.get(name, 0.0))
        if have > 0:
            continue
        warnings.warn(
            f"demand.population has no population in district {name!r}; "
            f"its official {official:,.0f} residents are spread uniformly over its area",
            UserWarning,
            stacklevel=3,
        )
        zone = zones[zones["district"] == name]
        extra.append(
            gpd.GeoDataFrame(
                {"district": [name], "pop": [1.0]}, geometry=zone.geometry.to_numpy(), crs=zones.crs
            )
        )
    if extra:
        pieces = gpd.GeoDataFrame(pd.concat([pieces, *extra], ignore_index=True), crs=pieces.crs)
        sums = pieces.groupby("district")["pop"].sum()
    factor = (totals.reindex(sums.index) / sums).fillna(1.0)
    pieces = pieces.copy()
    pieces["pop"] = pieces["pop"] * pieces["district"].map(factor).to_numpy()
    return pieces
