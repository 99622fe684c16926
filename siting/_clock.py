"""Private: the time solver runs get, within one limit or one stage's deadline.

:class:`StageClock` shares a stage's time between its solves; :func:`time_left` is
what a step leaves of its own limit to the solver run after it. Neither gives a run
less than :data:`siting.settings.MIN_SOLVE_S`, time enough to return its warm start.
"""

from __future__ import annotations

import threading
import time

from siting import settings


class StageClock:
    """Time for a stage of several solves that must all end by one deadline.

    ``end`` is the deadline (``time.perf_counter()``; None: no limit). The solves run
    in ``rounds``, ``width`` of them side by side in each; a solve gets the time left
    over the rounds not yet started, so one that ran late (model building, a solver
    stopping after its limit) leaves less to those after it instead of pushing the
    stage past its end. A solve never gets more than the time left, nor less than
    :data:`siting.settings.MIN_SOLVE_S`. Thread-safe.
    """

    def __init__(self, end: float | None, rounds: int = 1, width: int = 1) -> None:
        self.end = end
        self.rounds = max(rounds, 1)
        self.width = max(width, 1)
        self._taken = 0
        self._lock = threading.Lock()

    @classmethod
    def deadline(cls, limit: float | None) -> float | None:
        """The deadline of a stage of ``limit`` seconds starting now (reserve kept)."""
        if limit is None:
            return None
        return time.perf_counter() + limit * (1.0 - settings.STAGE_RESERVE)

    def left(self) -> float | None:
        """Seconds to the deadline (None: no limit; negative once past it)."""
        return None if self.end is None else self.end - time.perf_counter()

    def limit(self, *, cap: float | None = None, last: bool = False) -> float | None:
        """Time limit of the next solve (``last``: all that is left), at most ``cap``."""
        if self.end is None:
            return cap
        with self._lock:
            started = self._taken // self.width
            self._taken += 1
        left = self.end - time.perf_counter()
        want = left if last else left / max(self.rounds - started, 1)
        if cap is not None:
            want = min(want, cap)
        return max(settings.MIN_SOLVE_S, want)


def time_left(time_limit: float | None, spent: float) -> float | None:
    """What is left of ``time_limit`` after ``spent`` seconds, at least
    :data:`siting.settings.MIN_SOLVE_S` (None: no limit)."""
    return None if time_limit is None else max(settings.MIN_SOLVE_S, time_limit - spent)
