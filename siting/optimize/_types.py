"""What the models read of a run's drive times, as a protocol.

The models' ``from_travel_times`` constructors take any object with these members
(the run's :class:`siting.travel.TravelTimes` is one), so the solver library
imports nothing of the run.
"""

from __future__ import annotations

from typing import Protocol

import scipy.sparse as sp


class DriveTimes(Protocol):
    """Sparse demand × site drive times (seconds) within a cutoff.

    Attributes
    ----------
    matrix
        CSR array, shape ``(n_demand, n_sites)``; stored entries are the pairs within
        ``cutoff_s`` (a stored zero is a real zero-second trip).
    cutoff_s
        The cutoff the matrix was built with (seconds).
    """

    @property
    def matrix(self) -> sp.csr_array: ...

    @property
    def cutoff_s(self) -> float: ...

    def neighbours(self, threshold_s: float) -> sp.csr_array:
        """Boolean CSR of the pairs within ``threshold_s``."""
        ...
