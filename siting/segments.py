"""Demand segments: an input count and the behaviour that turns it into sessions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siting.errors import InputError

SEGMENTS = ("residents", "inbound", "taxis")


@dataclass(frozen=True)
class Segment:
    """One demand segment: an input count and the behaviour that turns it into sessions.

    ``count`` is vehicles (residents: registered; inbound: entering per day) or, for
    taxis, registered drivers (one shift a day). Sessions per day are

    .. math:: S = \\text{count} \\cdot s_{EV} \\cdot s_{pub} \\cdot f

    and energy per day :math:`E = S \\cdot e`.
    """

    name: str
    count: float
    ev_share: float
    public_share: float
    sessions_per_ev_day: float
    kwh_per_session: float
    charger: str = "AC"

    def __post_init__(self) -> None:
        for field in ("count", "sessions_per_ev_day", "kwh_per_session"):
            value = getattr(self, field)
            if not np.isfinite(value) or value < 0:
                raise InputError(f"demand.{self.name}.{field}: expected a number >= 0, got {value}")
        for field in ("ev_share", "public_share"):
            value = getattr(self, field)
            if not 0.0 <= value <= 1.0:
                raise InputError(
                    f"demand.{self.name}.{field}: expected a share in [0, 1], got {value}"
                )
        if self.charger not in ("AC", "DC"):
            raise InputError(
                f"demand.{self.name}.charger: expected 'AC' or 'DC', got {self.charger!r}"
            )

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
