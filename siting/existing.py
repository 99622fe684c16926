"""Existing charging stations: station files, OpenStreetMap tags and Open Charge Map records.

Every reader returns one row per station with ``name``, ``lon``, ``lat``,
``ports`` (charge points usable at once), ``station_type`` (``AC``/``DC``, empty
when unknown), ``kw`` (highest power per port, NaN when unknown), ``source``, ``ref``
(the record's own id, from which the station's site id is made: ``osm-node-42``,
``ocm-146017``, a station file's ``id``) and ``address`` (as recorded, else empty).
A station with any DC socket counts as DC (it serves taxis).

Every figure is checked as it is read (:class:`Checker`, in
:mod:`siting._station_checks`): ports a whole
number from 1 to :data:`siting.settings.MAX_STATION_PORTS`, power a finite number
of kW above 0 and at most :data:`siting.settings.MAX_PORT_KW`, type AC or DC,
coordinates numbers within range. Ports or power that are absent are unknown (the
plan then assumes the scenario's, and says so). A figure that is present but wrong,
or a type that is absent, is handled by where it comes from:

- the user's own file (``candidates.existing``: CSV, GeoJSON, or an Open Charge
  Map JSON file) is refused with a :class:`~siting.errors.DataFileError` naming
  the file, the row, the field, what was expected and what arrived: the user can
  fix it, and a guess would put a wrong figure in the plan (a station without a
  type would become whichever type suits the plan);
- crowd data read as part of a run (OSM tags, the Open Charge Map API) is logged
  as a warning and the figure read as unknown (a station with unusable
  coordinates is left out; a station without a type is given one by the plan, with
  a warning naming it, and ``sites.csv`` marks it in its ``assumed`` column): one bad
  tag among hundreds of stations should not stop a run the user cannot fix by
  editing their own file.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd

from siting._osm import address_of
from siting._station_checks import (
    STATION_COLUMNS,
    BadFigureError,
    Checker,
    check_table,
    coordinate_value,
    is_missing,
    kw_value,
    ports_value,
    type_value,
)
from siting.errors import DataFileError, NetworkError

__all__ = [
    "DC_SOCKETS",
    "OCM_DC_CURRENT",
    "OCM_DC_LEVEL",
    "STATION_COLUMNS",
    "BadFigureError",
    "Checker",
    "check_table",
    "coordinate_value",
    "fetch_ocm",
    "is_missing",
    "kw_value",
    "merge_stations",
    "parse_ocm_record",
    "parse_osm_tags",
    "ports_value",
    "read_ocm",
    "read_ocm_file",
    "read_osm_stations",
    "stations_from_features",
    "type_value",
]

log = logging.getLogger(__name__)

#: OSM ``socket:*`` keys of DC connectors; any other socket is AC.
DC_SOCKETS = frozenset(
    {"type2_combo", "ccs", "chademo", "tesla_supercharger", "tesla_supercharger_ccs", "gb_dc"}
)
#: Open Charge Map ``CurrentTypeID`` of DC, and ``LevelID`` of DC fast charging.
OCM_DC_CURRENT, OCM_DC_LEVEL = 30, 3


def _number(text: object) -> float | None:
    """The first number in a tag value (``"2"``, ``"22 kW"``, ``"50;22"``, ``"-4"``)."""
    if text is None:
        return None
    m = re.search(r"-?\d+(?:[.,]\d+)?", str(text))
    return float(m.group(0).replace(",", ".")) if m else None


def _kw(text: object) -> float | None:
    """Power from an ``output`` tag: ``"22 kW"``, ``"50kW"``, ``"7400 W"`` (W → kW)."""
    value = _number(text)
    if value is None:
        return None
    if re.search(r"\d\s*W\b", str(text)) and not re.search(r"kW", str(text), re.IGNORECASE):
        return value / 1000.0
    return value


def _or_text(number: float | None, text: str) -> object:
    """The number read from a tag, else the tag's text (no number in it: a bad figure)."""
    return text if number is None else number


def parse_osm_tags(
    tags: Mapping[str, str], *, where: str = "OSM station", field: str = "candidates.existing_osm"
) -> dict[str, Any]:
    """Ports, type and power of an ``amenity=charging_station`` from its tags.

    ``socket:<type>=<n>`` counts connectors per type (``socket:<type>:output`` their
    power); ``capacity`` is the number of vehicles charging at once and, when given,
    is the number of ports. Without sockets the type is unknown. Crowd data: a
    figure out of range (``capacity=-4``, ``capacity=0``, 1e9 sockets, ``output=0``)
    is logged as a warning (naming ``where``, e.g. ``osm:node/42``) and read as
    unknown; a bad ``capacity`` leaves the sockets' count.
    """
    check = Checker(where, field=field, strict=False)
    sockets: dict[str, float] = {}
    powers: list[float] = []
    for key, value in tags.items():
        parts = key.split(":")
        if parts[0] != "socket" or len(parts) < 2:
            continue
        if len(parts) == 2:
            n = _number(value)
            sockets[parts[1]] = n if n is not None else 1.0
        elif parts[2] == "output":
            kw = _kw(value)
            if kw is not None:
                powers.append(kw)
    raw_capacity = tags.get("capacity")
    capacity = np.nan
    if raw_capacity is not None:
        capacity = check.ports(_or_text(_number(raw_capacity), raw_capacity), "capacity")
    station_type = ""
    if sockets:
        station_type = "DC" if any(s in DC_SOCKETS for s in sockets) else "AC"
    ports = capacity
    if np.isnan(ports) and sockets:
        count = sum(sockets.values())
        ports = check.ports(count, "ports (sum of socket:*)") if count else np.nan
    if powers:
        kw = check.kw(max(powers), "kw (largest socket:*:output)")
    else:
        raw_kw = tags.get("charging_station:output")
        kw = (
            np.nan
            if raw_kw is None
            else check.kw(_or_text(_kw(raw_kw), raw_kw), "charging_station:output")
        )
    return {"ports": ports, "station_type": station_type, "kw": kw}


def read_osm_stations(src: Path, *, field: str = "network.osm_file") -> pd.DataFrame:
    """``amenity=charging_station`` nodes and areas of an OSM file."""
    rows: list[dict[str, Any]] = []
    try:
        processor = osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY)
        processor = processor.with_locations().with_filter(osmium.filter.KeyFilter("amenity"))
        for obj in processor:
            if obj.tags.get("amenity") != "charging_station":
                continue
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                lon, lat = obj.location.lon, obj.location.lat
                element = "node"
            elif isinstance(obj, osmium.osm.Way):
                pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
                if not pts:
                    continue
                lon, lat = np.asarray(pts).mean(axis=0).tolist()
                element = "way"
            else:
                continue
            tags = {t.k: t.v for t in obj.tags}
            ref = f"osm:{element}/{obj.id}"
            rows.append(
                {
                    "name": tags.get("name", ""),
                    "lon": lon,
                    "lat": lat,
                    **parse_osm_tags(tags, where=f"{src.name} {ref}"),
                    "source": ref,
                    "ref": f"osm-{element}-{obj.id}",
                    "address": address_of(tags),
                }
            )
    except RuntimeError as exc:
        raise DataFileError(f"{field}: cannot read OSM file {src}: {exc}") from None
    log.info("existing: %d charging stations tagged in %s", len(rows), src.name)
    return pd.DataFrame(rows, columns=STATION_COLUMNS)


def stations_from_features(features: gpd.GeoDataFrame) -> pd.DataFrame:
    """Stations from downloaded OSM features (OSMnx's frame: tags as columns).

    Points stand where they are; areas (a charging forecourt drawn as a way) at a
    point inside them.
    """
    rows: list[dict[str, Any]] = []
    for key, row in features.iterrows():
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        pt = geom if geom.geom_type == "Point" else geom.representative_point()
        tags = {k: str(v) for k, v in row.items() if k != "geometry" and isinstance(v, str)}
        if tags.get("amenity", "charging_station") != "charging_station":
            continue
        element, osm_id = key if isinstance(key, tuple) else ("node", key)
        ref = f"osm:{element}/{osm_id}"
        rows.append(
            {
                "name": tags.get("name", ""),
                "lon": float(pt.x),
                "lat": float(pt.y),
                **parse_osm_tags(tags, where=ref),
                "source": ref,
                "ref": f"osm-{element}-{osm_id}",
                "address": address_of(tags),
            }
        )
    log.info("existing: %d charging stations downloaded from OSM", len(rows))
    return pd.DataFrame(rows, columns=STATION_COLUMNS)


def parse_ocm_record(rec: Mapping[str, Any], check: Checker | None = None) -> dict[str, Any]:
    """One Open Charge Map POI: position, ports, type and power from its connections.

    Ports are ``NumberOfPoints``, else the connections' ``Quantity`` summed (1 where
    a connection has none); power the largest ``PowerKW``. Each figure goes through
    ``check`` (default: crowd data, a bad figure read as unknown with a warning).

    Raises
    ------
    BadFigureError
        Unusable coordinates of crowd data (the caller leaves the record out).
    DataFileError
        With a strict ``check``: the first bad figure.
    """
    ref = f"ocm:{rec.get('ID', '')}"
    if check is None:
        check = Checker(f"Open Charge Map {ref}", field="candidates.existing_ocm_url", strict=False)
    info = rec.get("AddressInfo") or {}
    lon, lat = check.position(
        info.get("Longitude"),
        info.get("Latitude"),
        ("AddressInfo.Longitude", "AddressInfo.Latitude"),
    )
    conns = [(i, c) for i, c in enumerate(rec.get("Connections") or []) if isinstance(c, Mapping)]
    ports = check.ports(rec.get("NumberOfPoints"), "NumberOfPoints")
    if np.isnan(ports) and conns:
        counts = [check.ports(c.get("Quantity"), f"Connections[{i}].Quantity") for i, c in conns]
        total = sum(1.0 if np.isnan(n) else n for n in counts)
        ports = check.ports(total, "ports (sum of Connections[].Quantity)")
    dc = any(
        c.get("CurrentTypeID") == OCM_DC_CURRENT or c.get("LevelID") == OCM_DC_LEVEL
        for _, c in conns
    )
    known = any(c.get("CurrentTypeID") or c.get("LevelID") for _, c in conns)
    powers = [check.kw(c.get("PowerKW"), f"Connections[{i}].PowerKW") for i, c in conns]
    powers = [p for p in powers if not np.isnan(p)]
    return {
        "name": str(info.get("Title", "") or ""),
        "lon": lon,
        "lat": lat,
        "ports": ports,
        "station_type": "DC" if dc else ("AC" if known else ""),
        "kw": max(powers) if powers else np.nan,
        "source": ref,
        "ref": f"ocm-{rec['ID']}" if rec.get("ID") not in (None, "") else "",
        "address": str(info.get("AddressLine1", "") or "").strip(),
    }


def read_ocm(
    records: Iterable[Any], *, origin: str, field: str, strict: bool = False
) -> pd.DataFrame:
    """Open Charge Map records (the API's JSON list, or one record).

    ``strict``: the records are the user's file (``origin``), and a bad figure, or a
    record whose connections give no type (AC or DC), is an error naming the record;
    otherwise (downloaded) a warning, the figure read as unknown, and a record with
    unusable coordinates left out.
    """
    rows = []
    for k, rec in enumerate(records, start=1):
        info = rec.get("AddressInfo") if isinstance(rec, Mapping) else None
        if not info or "Latitude" not in info or "Longitude" not in info:
            raise DataFileError(f"{field}: {origin} is neither GeoJSON nor Open Charge Map JSON")
        where = f"{origin} record {k} (ocm:{rec.get('ID', '')})"
        try:
            row = parse_ocm_record(rec, Checker(where, field=field, strict=strict))
        except BadFigureError as exc:  # crowd data only: a strict check raised DataFileError
            log.warning("%s: %s: %s; station left out", field, where, exc)
            continue
        if strict and not row["station_type"]:
            raise DataFileError(
                f"{field}: {where}: Connections: expected a connection with CurrentTypeID "
                "or LevelID (the station's type, AC or DC), got none"
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=STATION_COLUMNS)


def read_ocm_file(path: Path, *, field: str) -> pd.DataFrame:
    """An Open Charge Map JSON file (a list of records, or one), checked strictly."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return read_ocm(
        data if isinstance(data, list) else [data], origin=str(path), field=field, strict=True
    )


def fetch_ocm(
    url: str,
    bbox: tuple[float, float, float, float],
    *,
    key: str | None = None,
    timeout_s: float = 60.0,
    max_results: int = 5000,
    field: str = "candidates.existing",
) -> pd.DataFrame:
    """Download the stations in ``bbox`` (west, south, east, north) from the OCM API.

    ``url`` is the ``/v3/poi`` endpoint (``https://api.openchargemap.io/v3/poi``).
    """
    w, s, e, n = bbox
    query = {
        "output": "json",
        "boundingbox": f"({s},{w}),({n},{e})",
        "maxresults": str(max_results),
        "compact": "false",
        "verbose": "false",
    }
    if key:
        query["key"] = key
    full = f"{url}?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(full, timeout=timeout_s) as resp:
            data = json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise NetworkError(f"{field}: Open Charge Map request to {url} failed: {exc}") from None
    if not isinstance(data, list):
        raise NetworkError(
            f"{field}: Open Charge Map answered with {type(data).__name__}, not a list"
        )
    log.info("existing: %d stations from Open Charge Map (%s)", len(data), url)
    return read_ocm(data, origin=url, field=field)


def merge_stations(frames: list[pd.DataFrame], *, within_m: float = 50.0) -> pd.DataFrame:
    """Stations from several sources, one row per place (the first source wins).

    Two records closer than ``within_m`` are the same station; the first keeps
    its position and id and fills its unknown ports, type, power and address from
    the other.
    """
    found = [f for f in frames if f is not None and len(f)]
    if not found:
        return pd.DataFrame(columns=STATION_COLUMNS)
    rows = pd.concat(found, ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=STATION_COLUMNS)
    for col in ("ref", "address"):  # frames made before these columns
        rows[col] = rows[col].fillna("").astype(str) if col in rows else ""
    lat0 = np.radians(rows["lat"].mean())
    xy = np.c_[rows["lon"].to_numpy() * np.cos(lat0), rows["lat"].to_numpy()] * 111_320.0
    keep: list[int] = []
    for k in range(len(rows)):
        twin = next((j for j in keep if np.hypot(*(xy[k] - xy[j])) <= within_m), None)
        if twin is None:
            keep.append(k)
            continue
        for col in ("ports", "kw", "station_type", "ref", "address"):
            cur: Any = rows.at[twin, col]
            if (col != "station_type" and pd.isna(cur)) or cur == "":
                rows.at[twin, col] = rows.at[k, col]  # type: ignore[assignment]
        rows.at[twin, "source"] = f"{rows.at[twin, 'source']!s}+{rows.at[k, 'source']!s}"
    return rows.loc[keep].reset_index(drop=True)
