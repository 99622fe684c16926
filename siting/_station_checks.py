"""The figures of an existing station checked as they are read: ports, power, type and
position (see :mod:`siting.existing` for what is checked and how a bad figure is
handled by where it comes from).

The value functions (:func:`ports_value`, :func:`kw_value`, :func:`type_value`,
:func:`coordinate_value`) check one figure and raise :class:`BadFigureError`;
:class:`Checker` applies them to one station record, strictly (the user's file: a
:class:`~siting.errors.DataFileError`) or not (crowd data: a warning, the figure read
as unknown); :func:`check_table` checks every row of a user's file. The names are
exported from :mod:`siting.existing`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

from siting import settings
from siting.errors import DataFileError

# the station readers' logger: their warnings keep the name users see (siting.existing)
log = logging.getLogger("siting.existing")

T = TypeVar("T")

#: A station's columns: ``ref`` is its record's own id (``ocm-146017``, ``osm-node-42``,
#: a station file's ``id``; ``""`` when it has none) and ``address`` its address as
#: recorded (``""`` when none).
STATION_COLUMNS = ["name", "lon", "lat", "ports", "station_type", "kw", "source", "ref", "address"]

#: The message for a station of the user's own file that gives no type.
NO_TYPE = (
    "station_type: expected AC or DC (the type decides who can charge there; ports and "
    "kw may be left empty), got an empty value"
)


def is_missing(raw: object) -> bool:
    """Whether a figure as read is absent: None, NaN or blank text."""
    if raw is None:
        return True
    if isinstance(raw, str):
        return raw.strip() == ""
    if isinstance(raw, float | np.floating):
        return bool(np.isnan(raw))
    return raw is pd.NA or raw is pd.NaT


def _text(raw: object) -> str:
    """A text field as read: ``""`` when absent, else its text (a number of an id column
    read as a float without its ``.0``)."""
    if is_missing(raw):
        return ""
    if isinstance(raw, float | np.floating) and float(raw).is_integer():
        return str(int(raw))
    return str(raw).strip()


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
        raise BadFigureError(name, "AC or DC", raw)
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

    A row's ports and power may be empty (unknown: the scenario's are assumed, with a
    warning); its type may not: AC or DC decides who can charge there, and a station
    of unknown type would be given whichever type the plan likes best.

    Raises
    ------
    DataFileError
        The first bad figure: file, row, field, what was expected and what arrived; or
        the first row without a type.
    """
    rows = []
    for k, rec in enumerate(raw.to_dict("records"), start=1):
        name = "" if is_missing(rec.get("name")) else str(rec["name"])
        where = f"{origin} {unit} {k}" + (f" ({name!r})" if name else "")
        check = Checker(where, field=field, strict=True)
        lon, lat = check.position(rec.get("lon"), rec.get("lat"), ("lon", "lat"))
        row = {
            "name": name,
            "lon": lon,
            "lat": lat,
            "ports": check.ports(rec.get("ports")),
            "station_type": check.station_type(rec.get("station_type")),
            "kw": check.kw(rec.get("kw")),
            "source": _text(rec.get("source")),
            "ref": _text(rec.get("ref")),
            "address": _text(rec.get("address")),
        }
        if not row["station_type"]:
            raise DataFileError(f"{field}: {where}: {NO_TYPE}")
        rows.append(row)
    return pd.DataFrame(rows, columns=STATION_COLUMNS)
