"""Station designs: what a station may be, what it costs and how much it can take.

A design (``[[optimize.designs]]``, see :class:`siting.sections.DesignConfig`) is a
charger type, a number of ports and a power per port, with a capital cost and the user
groups it serves. Without ``[[optimize.designs]]`` the scenario has one design per
``optimize.capacity.types`` entry, named after it (``"AC"``, ``"DC"``), with
``optimize.capacity``'s ports and power and :func:`siting.costs.station_costs`'s cost:
the old station types, unchanged.

Capacity. A session of group *g* holds a port for

.. math:: h_g = \\frac{e_g}{\\min(P, P^{car}_{g})} + \\frac{t_{handling}}{60}

hours (its energy over the port's power, or the most its cars accept, plus handling).
A design offers :func:`siting.queueing.port_hours_capacity` port-hours a day at the
service level of ``optimize.capacity``, so group *g* alone could hold
:math:`\\text{capacity}_h / h_g` sessions a day there (:meth:`DesignSpec.sessions`).
With a waiting-probability bound only, the port-hours do not depend on the session
length; with a mean-wait bound they are computed at the demand-weighted mean session
length of the groups that may use the design (see
:func:`siting.queueing.port_hours_capacity`).

:func:`read_site_costs` reads ``candidates.site_costs``: extra capital cost (land, grid
connection, works) of building at the candidate nearest to each point.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from siting import settings
from siting.costs import station_cost_parts, station_costs
from siting.errors import DataFileError, InputError, MissingFileError
from siting.queueing import check_ports, port_hours_capacity
from siting.scenario import Scenario
from siting.sections import CapacityConfig
from siting.segments import Segment, design_users, no_design_message

#: Columns of :func:`read_site_costs`'s table.
SITE_COST_COLUMNS = ["lat", "lon", "cost", "note"]


@dataclass(frozen=True)
class DesignSpec:
    """A station design with its cost and capacity, as the optimiser takes it.

    Attributes
    ----------
    name
        The design's name (``"AC"``/``"DC"`` for the defaults; ``"existing DC 4 x
        120 kW"`` for an existing station's own, see :func:`existing_spec`).
    charger
        ``"AC"`` or ``"DC"``.
    ports, kw_per_port
        Ports and power per port (kW).
    cost
        Capital cost of one station in the ``[costs]`` currency (0 for an existing one).
    cost_parts
        Its parts (empty when given whole).
    segments
        The user groups it serves (:func:`siting.segments.design_users`).
    site_kinds
        Candidate kinds where it may stand; ``None``: anywhere.
    source
        Where the figures come from.
    hours
        Per group it serves, the hours one session holds a port here.
    capacity_h
        Port-hours per day the station offers at the service level.
    """

    name: str
    charger: str
    ports: int
    kw_per_port: float
    cost: float
    cost_parts: dict[str, float] = field(hash=False)
    segments: tuple[str, ...]
    site_kinds: tuple[str, ...] | None
    source: str
    hours: dict[str, float] = field(hash=False)
    capacity_h: float

    @property
    def station_kw(self) -> float:
        """Power of the whole station (kW): ports × power per port."""
        return self.ports * self.kw_per_port

    def sessions(self, segment: str) -> float:
        """Sessions per day the station could take if only ``segment`` used it:
        ``capacity_h / hours[segment]``.

        Raises
        ------
        InputError
            ``segment`` is not a group the design serves.
        """
        if segment not in self.hours:
            raise InputError(
                f"design {self.name!r}: serves {', '.join(self.segments) or 'no group'}, "
                f"not {segment!r}"
            )
        return self.capacity_h / self.hours[segment]


def session_hours(segment: Segment, charger: str, kw_per_port: float, handling_min: float) -> float:
    """Hours one session of ``segment`` holds a port of ``kw_per_port`` kW of type
    ``charger``: its energy over the port's power (or the most its cars accept,
    ``segment.car_kw[charger]``) plus the handling time."""
    kw = min(kw_per_port, segment.car_kw.get(charger, math.inf))
    return segment.kwh_per_session / kw + handling_min / 60.0


def design_specs(
    sc: Scenario, segments: dict[str, Segment], peak_hour_share: float
) -> list[DesignSpec]:
    """The designs a new station may take, with their cost and capacity.

    ``[[optimize.designs]]`` as given, else one design per ``optimize.capacity.types``
    entry named after it (ports and power from ``optimize.capacity``, cost from
    :func:`siting.costs.station_costs`, source from ``[costs]``), whose capacity at the
    demand mix of the groups it serves is :func:`siting.queueing.station_capacity`'s.

    Parameters
    ----------
    sc
        The scenario.
    segments
        Its user groups (:func:`siting.scenario.resolve_segments`).
    peak_hour_share
        Share of a day's sessions that arrive in the peak hour.

    Raises
    ------
    InputError
        A design no group may use (``optimize.designs[i]``), a group no design serves
        (``demand.<group>.designs``; with the default designs only a group that names
        its designs: the defaults may leave a group unserved, as the station types
        always could), or a figure the queueing model cannot take.
    """
    cfg = sc.optimize.capacity
    _check_groups(segments)
    out: list[DesignSpec] = []
    if sc.optimize.designs:
        for i, d in enumerate(sc.optimize.designs):
            where = f"optimize.designs[{i}]"
            users = design_users(segments, design=d.name, charger=d.charger, serves=d.segments)
            if not users:
                raise InputError(
                    f"{where}: no user group may use design {d.name!r} ({d.charger}; its "
                    "segments, the groups' chargers and designs lists leave none)"
                )
            out.append(
                _spec(
                    DesignSpec(
                        name=d.name,
                        charger=d.charger,
                        ports=d.ports,
                        kw_per_port=d.kw_per_port,
                        cost=d.capital_cost,
                        cost_parts=dict(d.cost_parts or {}),
                        segments=users,
                        site_kinds=None if d.site_kinds is None else tuple(d.site_kinds),
                        source=d.source,
                        hours={},
                        capacity_h=0.0,
                    ),
                    cfg,
                    segments,
                    peak_hour_share,
                    where=where,
                )
            )
    else:
        cost = station_costs(sc.costs, cfg)
        parts = station_cost_parts(sc.costs, cfg)
        for t in cfg.types:
            out.append(
                _spec(
                    DesignSpec(
                        name=t,
                        charger=t,
                        ports=check_ports(cfg.ports, "optimize.capacity.ports"),
                        kw_per_port=cfg.ac_kw if t == "AC" else cfg.dc_kw,
                        cost=cost[t],
                        cost_parts=parts[t],
                        segments=design_users(segments, design=t, charger=t, serves=None),
                        site_kinds=None,
                        source="" if sc.costs is None else sc.costs.source,
                        hours={},
                        capacity_h=0.0,
                    ),
                    cfg,
                    segments,
                    peak_hour_share,
                    where=f"optimize.capacity ({t})",
                )
            )
    served = {g for spec in out for g in spec.segments}
    for name, seg in segments.items():
        # the defaults may leave out a group that names no designs, as the station
        # types always could (taxis with optimize.capacity.types = ["AC"])
        if name not in served and (sc.optimize.designs or seg.designs is not None):
            known = [(spec.name, spec.charger) for spec in out]
            raise InputError(no_design_message(name, seg, known))
    return out


def existing_spec(
    charger: str,
    ports: int,
    kw_per_port: float,
    cfg: CapacityConfig,
    segments: dict[str, Segment],
    peak_hour_share: float,
) -> DesignSpec:
    """An existing station's own design: its charger, ports and power, cost 0 (sunk).

    It serves the groups its charger allows (DC: every group; AC: the AC groups); the
    groups' ``designs`` lists name new designs and do not bar them from it. Its
    capacity at the demand mix of those groups is
    :func:`siting.queueing.existing_capacity`'s.

    Parameters
    ----------
    charger
        ``"AC"`` or ``"DC"``.
    ports, kw_per_port
        The station's ports and power per port (kW).
    cfg
        ``optimize.capacity``: handling time and service level.
    segments
        The scenario's user groups.
    peak_hour_share
        Share of a day's sessions that arrive in the peak hour.

    Raises
    ------
    InputError
        ``charger`` not AC or DC, ports or power out of range.
    """
    if charger not in ("AC", "DC"):
        raise InputError(f"existing station: charger: expected 'AC' or 'DC', got {charger!r}")
    n = check_ports(ports, "existing station: ports")
    if not (math.isfinite(kw_per_port) and 0 < kw_per_port <= settings.MAX_PORT_KW):
        raise InputError(
            f"existing station: kw: expected a power in kW above 0 and at most "
            f"{settings.MAX_PORT_KW:g}, got {kw_per_port}"
        )
    _check_groups(segments)
    users = tuple(g for g, s in segments.items() if charger == "DC" or s.charger == "AC")
    name = f"existing {charger} {n} x {kw_per_port:g} kW"
    spec = DesignSpec(
        name=name,
        charger=charger,
        ports=n,
        kw_per_port=float(kw_per_port),
        cost=0.0,
        cost_parts={},
        segments=users,
        site_kinds=("existing_station",),
        source="existing station",
        hours={},
        capacity_h=0.0,
    )
    return _spec(spec, cfg, segments, peak_hour_share, where=name)


def _check_groups(segments: Mapping[str, Segment]) -> None:
    if not segments:
        raise InputError("demand: expected at least one user group, got none")


def _spec(
    spec: DesignSpec,
    cfg: CapacityConfig,
    segments: Mapping[str, Segment],
    peak_hour_share: float,
    *,
    where: str,
) -> DesignSpec:
    """``spec`` with its session hours and port-hour capacity filled in."""
    handling = cfg.handling_min

    def hours_of(names: tuple[str, ...]) -> dict[str, float]:
        return {
            g: session_hours(segments[g], spec.charger, spec.kw_per_port, handling) for g in names
        }

    hours = hours_of(spec.segments)
    # the mean session the queue sees: its users' weighted by their demand, equal
    # weights when none has any; a station no group may use (an existing AC one among
    # DC groups only) takes every group's plain mean, as siting.queueing does
    mix = hours or hours_of(tuple(segments))
    weight = {g: segments[g].sessions_per_day for g in mix} if hours else {}
    total = sum(weight.values())
    if total <= 0:
        weight, total = dict.fromkeys(mix, 1.0), float(len(mix))
    service_h = sum(weight[g] * h for g, h in mix.items()) / total
    wait_h = cfg.max_mean_wait_min / 60.0 if cfg.max_mean_wait_min else None
    try:
        capacity_h = port_hours_capacity(
            spec.ports,
            service_h,
            peak_hour_share,
            max_wait_prob=cfg.max_wait_prob,
            max_mean_wait_h=wait_h,
        )
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return dataclasses.replace(spec, hours=hours, capacity_h=capacity_h)


def load_site_costs(sc: Scenario) -> pd.DataFrame | None:
    """``candidates.site_costs`` of ``sc`` read (:func:`read_site_costs`); ``None``
    when the scenario gives none.

    Raises
    ------
    MissingFileError
        The file is not there.
    DataFileError
        See :func:`read_site_costs`.
    """
    path = sc.resolve(sc.candidates.site_costs, field="candidates.site_costs")
    return None if path is None else read_site_costs(path)


def read_site_costs(path: Path, *, field: str = "candidates.site_costs") -> pd.DataFrame:
    """Extra capital cost of building at a site, from a CSV.

    Columns ``lat``, ``lon`` (degrees), ``cost`` (``[costs]`` currency, from 0 to
    :data:`siting.settings.MAX_MONEY`) and optional ``note``, any case; other columns
    are ignored, lines starting with ``#`` are comments. Each row is for the candidate
    nearest to its point (within ``candidates.snap_max_m``); rows are returned as
    given, in order.

    Parameters
    ----------
    path
        The CSV file.
    field
        The scenario field that named it, for messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SITE_COST_COLUMNS` (``note`` ``""`` where not given).

    Raises
    ------
    MissingFileError
        The file is not there.
    DataFileError
        The file cannot be read, lacks a column, lists no sites, or a row's figure is
        not usable (naming the row, counted from 1, the column, what was expected and
        what arrived).
    """
    if not path.is_file():
        raise MissingFileError(f"{field}: file not found: {path}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataFileError(f"{field}: cannot read {path}: {first}") from None
    columns = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("lat", "lon", "cost") if c not in columns]
    if missing:
        has = ", ".join(map(str, raw.columns)) or "none"
        raise DataFileError(
            f"{field}: {path}: expected columns lat, lon, cost (and optional note), "
            f"missing {', '.join(missing)}; has {has}"
        )
    if raw.empty:
        raise DataFileError(f"{field}: {path} lists no sites")
    bounds = {
        "lat": (-90.0, 90.0, "a latitude in degrees from -90 to 90"),
        "lon": (-180.0, 180.0, "a longitude in degrees from -180 to 180"),
        "cost": (0.0, settings.MAX_MONEY, f"a cost from 0 to {settings.MAX_MONEY:g}"),
    }
    rows: list[dict[str, object]] = []
    for k, rec in enumerate(raw.to_dict("records"), start=1):
        row: dict[str, object] = {}
        for col, (lo, hi, expected) in bounds.items():
            text = str(rec[columns[col]]).strip()
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and lo <= value <= hi):
                raise DataFileError(
                    f"{field}: {path} row {k}: {col}: expected {expected}, got {text!r}"
                )
            row[col] = value
        row["note"] = str(rec[columns["note"]]).strip() if "note" in columns else ""
        rows.append(row)
    return pd.DataFrame(rows, columns=SITE_COST_COLUMNS)
