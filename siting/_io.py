"""Private helpers for reading and writing files safely."""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.errors import DataFileError, MissingFileError

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"


def read_vector(path: Path, *, field: str, column: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file into WGS84, checking CRS, emptiness and a column.

    A layer in another CRS is reprojected; a layer with no CRS is an error,
    because guessing would place the data anywhere.

    Parameters
    ----------
    path
        Any file GDAL reads (GeoJSON, GeoPackage, Shapefile, ...).
    field
        Scenario field that named the file, used in messages.
    column
        A column that must exist and be numeric-or-text as the caller needs.
    """
    if not path.exists():
        raise MissingFileError(f"{field}: file not found: {path}")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise DataFileError(f"{field}: cannot read {path}: {_first_line(exc)}") from None
    if gdf.empty:
        raise DataFileError(f"{field}: {path} has no features")
    if gdf.crs is None:
        raise DataFileError(f"{field}: {path} has no CRS; expected one (e.g. EPSG:4326)")
    if not gdf.crs.equals(WGS84):
        log.info("%s: reprojecting %s from %s to EPSG:4326", field, path.name, gdf.crs)
        gdf = gdf.to_crs(WGS84)
    if column is not None and column not in gdf.columns:
        cols = ", ".join(c for c in gdf.columns if c != "geometry")
        raise DataFileError(f"{field}: {path} has no column {column!r} (columns: {cols})")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return gdf.reset_index(drop=True)


def check_projected(gdf: gpd.GeoDataFrame, *, what: str) -> None:
    """Warn when distances are about to be taken in a geographic CRS."""
    if gdf.crs is None or gdf.crs.is_geographic:
        warnings.warn(
            f"{what}: CRS {gdf.crs} is geographic; distances would be in degrees. "
            "Project to a metric CRS first.",
            UserWarning,
            stacklevel=2,
        )


def utm_crs(gdf: gpd.GeoDataFrame) -> Any:
    """The UTM zone CRS that fits a layer, for metric distances and areas."""
    return gdf.estimate_utm_crs()


def file_stamp(path: Path) -> dict[str, Any]:
    """Name, size and short sha256 of an input file, for the run's data stamps."""
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path)[:16],
    }


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def array_digest(a: np.ndarray) -> str:
    """SHA-256 of an array's bytes (C order), for cache keys."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def hash_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts, for cache keys."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")
    Path(tmp).replace(path)


def read_table(path: Path, *, field: str, columns: list[str]) -> pd.DataFrame:
    """Read a CSV and check that it has the named columns."""
    if not path.exists():
        raise MissingFileError(f"{field}: file not found: {path}")
    try:
        df = pd.read_csv(path, comment="#")
    except Exception as exc:
        raise DataFileError(f"{field}: cannot read {path}: {_first_line(exc)}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFileError(
            f"{field}: {path} lacks column(s) {', '.join(missing)}; has {', '.join(df.columns)}"
        )
    return df


def json_default(obj: Any) -> Any:
    """``default=`` for :func:`json.dumps`: numpy scalars and paths."""
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
