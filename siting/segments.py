"""Demand segments: an input count and the behaviour that turns it into sessions,
and the standards a plan owes each of them (drive time, designs, a served share)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from siting.errors import InputError

SEGMENTS = ("residents", "inbound", "taxis")


class _FrozenMap(Mapping[str, float]):
    """A read-only, hashable and picklable ``str -> float`` mapping (a segment's
    ``car_kw``: the dataclass stays frozen, hashable and fit for Dask workers)."""

    def __init__(self, items: Mapping[str, float] | Iterable[tuple[str, float]] = ()) -> None:
        self._items: dict[str, float] = dict(items)

    def __getitem__(self, key: str) -> float:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)


@dataclass(frozen=True)
class Segment:
    """One demand segment: an input count and the behaviour that turns it into sessions.

    ``count`` is vehicles (residents: registered; inbound: entering per day) or, for
    taxis, registered drivers (one shift a day). Sessions per day are

    .. math:: S = \\text{count} \\cdot s_{EV} \\cdot s_{pub} \\cdot f

    and energy per day :math:`E = S \\cdot e`.

    The standards a plan owes the segment (``[demand.<segment>]``, all optional):
    ``max_trip_min``, the longest acceptable drive to a station (``None``: the
    scenario's ``optimize.threshold_min``); ``designs``, the station designs it can
    use (``None``: every design its charger allows, see :func:`may_use`);
    ``min_served_share``, the share of its demand every plan must serve; ``weight``,
    the weight of its sessions in the objective; ``car_kw``, the most power its cars
    accept per charger type (``"AC"``/``"DC"``; a type left out: no limit).
    """

    name: str
    count: float
    ev_share: float
    public_share: float
    sessions_per_ev_day: float
    kwh_per_session: float
    charger: str = "AC"
    max_trip_min: float | None = None
    designs: tuple[str, ...] | None = None
    min_served_share: float = 0.0
    weight: float = 1.0
    car_kw: Mapping[str, float] = field(default_factory=_FrozenMap)

    def __post_init__(self) -> None:
        # frozen copies of what arrived (a list, a dict): the segment stays hashable
        if self.designs is not None:
            object.__setattr__(self, "designs", tuple(self.designs))
        object.__setattr__(self, "car_kw", _FrozenMap(self.car_kw))
        self._check_behaviour()
        self._check_standards()

    def _check_behaviour(self) -> None:
        for attr in ("count", "sessions_per_ev_day", "kwh_per_session"):
            value = getattr(self, attr)
            if not np.isfinite(value) or value < 0:
                raise InputError(f"demand.{self.name}.{attr}: expected a number >= 0, got {value}")
        for attr in ("ev_share", "public_share"):
            value = getattr(self, attr)
            if not 0.0 <= value <= 1.0:
                raise InputError(
                    f"demand.{self.name}.{attr}: expected a share in [0, 1], got {value}"
                )
        if self.charger not in ("AC", "DC"):
            raise InputError(
                f"demand.{self.name}.charger: expected 'AC' or 'DC', got {self.charger!r}"
            )

    def _check_standards(self) -> None:
        where = f"demand.{self.name}"
        trip = self.max_trip_min
        if trip is not None and not (math.isfinite(trip) and trip > 0):
            raise InputError(f"{where}.max_trip_min: expected minutes > 0 or None, got {trip}")
        if self.designs is not None and not all(isinstance(d, str) and d for d in self.designs):
            raise InputError(f"{where}.designs: expected design names, got {self.designs!r}")
        if not 0.0 <= self.min_served_share <= 1.0:
            raise InputError(
                f"{where}.min_served_share: expected a share in [0, 1], got {self.min_served_share}"
            )
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise InputError(f"{where}.weight: expected a number >= 0, got {self.weight}")
        for kind, kw in self.car_kw.items():
            if kind not in ("AC", "DC"):
                raise InputError(f"{where}.car_kw: expected keys 'AC' or 'DC', got {kind!r}")
            if not (math.isfinite(kw) and kw > 0):
                raise InputError(f"{where}.car_kw.{kind}: expected a power in kW > 0, got {kw}")

    @property
    def evs(self) -> float:
        """Electric vehicles of the segment."""
        return self.count * self.ev_share

    @property
    def sessions_per_day(self) -> float:
        """Public charging sessions per day, city total."""
        return self.count * self.ev_share * self.public_share * self.sessions_per_ev_day

    @property
    def kwh_per_day(self) -> float:
        """Energy per day at public stations, city total."""
        return self.sessions_per_day * self.kwh_per_session


class _Group(Protocol):
    """What :func:`may_use` reads of a user group: a :class:`Segment` or its scenario
    section (:class:`siting.sections.SegmentConfig`)."""

    @property
    def charger(self) -> str: ...

    @property
    def designs(self) -> Sequence[str] | None: ...


def may_use(
    group: str, segment: _Group, *, design: str, charger: str, serves: Sequence[str] | None
) -> bool:
    """Whether user group ``group`` may charge at a station of ``design``.

    A DC design serves every group, an AC design the groups whose ``charger`` is AC
    (a DC group, the taxis, needs DC); then the design's own list of groups
    (``serves``, ``None``: no limit) and the group's own list of designs
    (``segment.designs``, ``None``: no limit) must both allow it.

    Parameters
    ----------
    group
        The group's name (``residents``, ``inbound``, ``taxis``).
    segment
        The group: a :class:`Segment` or its ``[demand.<group>]`` section.
    design
        The design's name.
    charger
        The design's charger type, ``"AC"`` or ``"DC"``.
    serves
        The groups the design names, or ``None``.
    """
    if charger == "AC" and segment.charger != "AC":
        return False
    if serves is not None and group not in serves:
        return False
    return segment.designs is None or design in segment.designs


def design_users(
    groups: Mapping[str, _Group], *, design: str, charger: str, serves: Sequence[str] | None
) -> tuple[str, ...]:
    """The groups of ``groups`` that may use ``design`` (:func:`may_use`), in their order."""
    return tuple(
        name
        for name, seg in groups.items()
        if may_use(name, seg, design=design, charger=charger, serves=serves)
    )


def no_design_message(group: str, segment: _Group, designs: Sequence[tuple[str, str]]) -> str:
    """The one line for a group no design serves, naming ``demand.<group>.designs``.

    Parameters
    ----------
    group
        The group's name.
    segment
        The group (its charger and designs list).
    designs
        The scenario's designs, each ``(name, charger)``.
    """
    named = "" if segment.designs is None else f" and names designs {list(segment.designs)}"
    known = ", ".join(f"{name!r} ({charger})" for name, charger in designs)
    return (
        f"demand.{group}.designs: no station design serves {group} (it charges at "
        f"{segment.charger}{named}; the scenario's designs: {known})"
    )
