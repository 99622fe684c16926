"""Existing charging stations: station files, OpenStreetMap tags and Open Charge Map records.

Every reader returns one row per station with ``name``, ``lon``, ``lat``,
``ports`` (charge points usable at once), ``station_type`` (``AC``/``DC``, empty
when unknown), ``kw`` (highest power per port, NaN when unknown) and ``source``.
A station with any DC socket counts as DC (it serves taxis).

Every figure is checked here, as it is read (:class:`Checker`): ports a whole
number from 1 to :data:`siting.settings.MAX_STATION_PORTS`, power a finite number
of kW above 0 and at most :data:`siting.settings.MAX_PORT_KW`, type AC or DC,
coordinates numbers within range. A figure that is absent is unknown (the plan
then assumes the scenario's, and says so). A figure that is present but wrong is
handled by where it comes from:

- the user's own file (``candidates.existing``: CSV, GeoJSON, or an Open Charge
  Map JSON file) is refused with a :class:`~siting.errors.DataFileError` naming
  the file, the row, the field, what was expected and what arrived: the user can
  fix it, and a guess would put a wrong figure in the plan;
- crowd data read as part of a run (OSM tags, the Open Charge Map API) is logged
  as a warning and the figure read as unknown (a station with unusable
  coordinates is left out): one bad tag among hundreds of stations should not
  stop a run the user cannot fix by editing their own file.
"""

from __future__ import annotations

import json
import logging
import math
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd

from siting import settings
from siting.errors import DataFileError, NetworkError

log = logging.getLogger(__name__)

T = TypeVar("T")

STATION_COLUMNS = ["name", "lon", "lat", "ports", "station_type", "kw", "source"]

#: OSM ``socket:*`` keys of DC connectors; any other socket is AC.
DC_SOCKETS = frozenset(
    {"type2_combo", "ccs", "chademo", "tesla_supercharger", "tesla_supercharger_ccs", "gb_dc"}
)
#: Open Charge Map ``CurrentTypeID`` of DC, and ``LevelID`` of DC fast charging.
OCM_DC_CURRENT, OCM_DC_LEVEL = 30, 3


def is_missing(raw: object) -> bool:
    """Whether a figure as read is absent: None, NaN or blank text."""
    if raw is None:
        return True
    if isinstance(raw, str):
        return raw.strip() == ""
    if isinstance(raw, float | np.floating):
        return bool(np.isnan(raw))
    return raw is pd.NA or raw is pd.NaT


def _shown(raw: object) -> str:
    """A figure as it arrived, for a message (NumPy scalars as plain numbers)."""
    if isinstance(raw, np.generic):
        raw = raw.item()
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a count read as a float (a CSV column with gaps, a tag)
    return repr(raw)


class BadFigureError(ValueError):
    """A station figure that is present but not usable (see :class:`Checker`)."""

    def __init__(self, name: str, expected: str, raw: object) -> None:
        super().__init__(f"{name}: expected {expected}, got {_shown(raw)}")


def _number_of(raw: object, name: str, expected: str) -> float:
    """``raw`` (a number, or text of one) as a finite float; :class:`BadFigureError` if not."""
    if isinstance(raw, bool | np.bool_):
        raise BadFigureError(name, expected, raw)
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadFigureError(name, expected, raw) from None
    if not math.isfinite(value):
        raise BadFigureError(name, expected, raw)
    return value


def ports_value(raw: object, name: str = "ports") -> float:
    """Ports of a station as read: NaN when absent, else a whole number from 1 to
    :data:`siting.settings.MAX_STATION_PORTS` (as a float); :class:`BadFigureError` if not."""
    if is_missing(raw):
        return np.nan
    expected = f"a whole number of ports from 1 to {settings.MAX_STATION_PORTS}"
    value = _number_of(raw, name, expected)
    if not (value.is_integer() and 1 <= value <= settings.MAX_STATION_PORTS):
        raise BadFigureError(name, expected, raw)
    return value


def kw_value(raw: object, name: str = "kw") -> float:
    """Power per port (kW) as read: NaN when absent, else a finite number above 0 and at
    most :data:`siting.settings.MAX_PORT_KW`; :class:`BadFigureError` if not."""
    if is_missing(raw):
        return np.nan
    expected = f"a power in kW above 0 and at most {settings.MAX_PORT_KW:g}"
    value = _number_of(raw, name, expected)
    if not 0 < value <= settings.MAX_PORT_KW:
        raise BadFigureError(name, expected, raw)
    return value


def type_value(raw: object, name: str = "station_type") -> str:
    """Station type as read: ``""`` when absent, else ``AC`` or ``DC`` (any case);
    :class:`BadFigureError` if not."""
    if is_missing(raw):
        return ""
    text = raw.strip().upper() if isinstance(raw, str) else None
    if text not in ("AC", "DC"):
        raise BadFigureError(name, "AC, DC or empty", raw)
    return text


def coordinate_value(raw: object, name: str, bound: float) -> float:
    """A latitude (``bound`` 90) or longitude (180) in degrees; :class:`BadFigureError` if
    absent, not a number, or beyond ``bound``."""
    what = "latitude" if bound == 90 else "longitude"
    expected = f"a {what} in degrees from {-bound:g} to {bound:g}"
    if is_missing(raw):
        raise BadFigureError(name, expected, raw)
    value = _number_of(raw, name, expected)
    if not -bound <= value <= bound:
        raise BadFigureError(name, expected, raw)
    return value


class Checker:
    """Checks the figures of one station record as it is read.

    Parameters
    ----------
    where
        The record, for messages: file and row, or the OSM or OCM reference.
    field
        The scenario field that named the data (``candidates.existing``).
    strict
        The user's own file: a bad figure raises :class:`DataFileError`. Otherwise
        (crowd data) it is logged as a warning and read as unknown.
    """

    def __init__(self, where: str, *, field: str, strict: bool) -> None:
        self.where = where
        self.field = field
        self.strict = strict

    def _bad(self, exc: BadFigureError) -> None:
        if self.strict:
            raise DataFileError(f"{self.field}: {self.where}: {exc}") from None
        log.warning("%s: %s: %s; read as unknown", self.field, self.where, exc)

    def _read(self, value: Callable[[object, str], T], raw: object, name: str, unknown: T) -> T:
        """``value(raw, name)``; ``unknown`` for a bad figure of crowd data."""
        try:
            return value(raw, name)
        except BadFigureError as exc:
            self._bad(exc)
            return unknown

    def ports(self, raw: object, name: str = "ports") -> float:
        """See :func:`ports_value`; NaN for a bad figure of crowd data."""
        return self._read(ports_value, raw, name, np.nan)

    def kw(self, raw: object, name: str = "kw") -> float:
        """See :func:`kw_value`; NaN for a bad figure of crowd data."""
        return self._read(kw_value, raw, name, np.nan)

    def station_type(self, raw: object, name: str = "station_type") -> str:
        """See :func:`type_value`; ``""`` for a bad figure of crowd data."""
        return self._read(type_value, raw, name, "")

    def position(self, lon: object, lat: object, names: tuple[str, str]) -> tuple[float, float]:
        """Longitude and latitude; :class:`BadFigureError` (crowd data: the caller leaves the
        station out) or :class:`DataFileError` (the user's file) when unusable."""
        try:
            return coordinate_value(lon, names[0], 180), coordinate_value(lat, names[1], 90)
        except BadFigureError as exc:
            if self.strict:
                raise DataFileError(f"{self.field}: {self.where}: {exc}") from None
            raise


def check_table(
    raw: pd.DataFrame, *, origin: str, unit: str, field: str = "candidates.existing"
) -> pd.DataFrame:
    """The stations of a user's file (columns :data:`STATION_COLUMNS`, figures as they
    arrived), every row checked (:class:`Checker`, strict).

    ``origin`` is the file and ``unit`` what a row is called in messages (``row`` of
    a CSV, ``feature`` of a GeoJSON), counted from 1.

    Raises
    ------
    DataFileError
        The first bad figure: file, row, field, what was expected and what arrived.
    """
    rows = []
    for k, rec in enumerate(raw.to_dict("records"), start=1):
        name = "" if is_missing(rec.get("name")) else str(rec["name"])
        where = f"{origin} {unit} {k}" + (f" ({name!r})" if name else "")
        check = Checker(where, field=field, strict=True)
        lon, lat = check.position(rec.get("lon"), rec.get("lat"), ("lon", "lat"))
        rows.append(
            {
                "name": name,
                "lon": lon,
                "lat": lat,
                "ports": check.ports(rec.get("ports")),
                "station_type": check.station_type(rec.get("station_type")),
                "kw": check.kw(rec.get("kw")),
                "source": "" if is_missing(rec.get("source")) else str(rec["source"]),
            }
        )
    return pd.DataFrame(rows, columns=STATION_COLUMNS)


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
                ref = f"osm:node/{obj.id}"
            elif isinstance(obj, osmium.osm.Way):
                pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
                if not pts:
                    continue
                lon, lat = np.asarray(pts).mean(axis=0).tolist()
                ref = f"osm:way/{obj.id}"
            else:
                continue
            tags = {t.k: t.v for t in obj.tags}
            rows.append(
                {
                    "name": tags.get("name", ""),
                    "lon": lon,
                    "lat": lat,
                    **parse_osm_tags(tags, where=f"{src.name} {ref}"),
                    "source": ref,
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
    }


def read_ocm(
    records: Iterable[Any], *, origin: str, field: str, strict: bool = False
) -> pd.DataFrame:
    """Open Charge Map records (the API's JSON list, or one record).

    ``strict``: the records are the user's file (``origin``), and a bad figure is an
    error naming the record; otherwise (downloaded) a warning, the figure read as
    unknown, and a record with unusable coordinates left out.
    """
    rows = []
    for k, rec in enumerate(records, start=1):
        info = rec.get("AddressInfo") if isinstance(rec, Mapping) else None
        if not info or "Latitude" not in info or "Longitude" not in info:
            raise DataFileError(f"{field}: {origin} is neither GeoJSON nor Open Charge Map JSON")
        where = f"{origin} record {k} (ocm:{rec.get('ID', '')})"
        try:
            rows.append(parse_ocm_record(rec, Checker(where, field=field, strict=strict)))
        except BadFigureError as exc:  # crowd data only: a strict check raised DataFileError
            log.warning("%s: %s: %s; station left out", field, where, exc)
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
    its position and fills its unknown ports, type and power from the other.
    """
    found = [f for f in frames if f is not None and len(f)]
    if not found:
        return pd.DataFrame(columns=STATION_COLUMNS)
    rows = pd.concat(found, ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=STATION_COLUMNS)
    lat0 = np.radians(rows["lat"].mean())
    xy = np.c_[rows["lon"].to_numpy() * np.cos(lat0), rows["lat"].to_numpy()] * 111_320.0
    keep: list[int] = []
    for k in range(len(rows)):
        twin = next((j for j in keep if np.hypot(*(xy[k] - xy[j])) <= within_m), None)
        if twin is None:
            keep.append(k)
            continue
        for col in ("ports", "kw", "station_type"):
            cur: Any = rows.at[twin, col]
            if (col != "station_type" and pd.isna(cur)) or cur == "":
                rows.at[twin, col] = rows.at[k, col]  # type: ignore[assignment]
        rows.at[twin, "source"] = f"{rows.at[twin, 'source']!s}+{rows.at[k, 'source']!s}"
    return rows.loc[keep].reset_index(drop=True)
