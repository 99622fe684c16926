"""Exception hierarchy of siting.

Every error a user can fix by changing their input derives from
:class:`InputError` and is reported by the command-line program as one line
with exit code 2. Each also subclasses the matching built-in so that library
callers can catch ``ValueError`` or ``FileNotFoundError`` as usual.

The classes are public: import them from here or from the package
(``from siting import InputError``).
"""

from __future__ import annotations


class SitingError(Exception):
    """Base class of every exception raised on purpose by siting."""


class InputError(SitingError, ValueError):
    """A scenario value, a data file or a request is not usable as given."""


class ScenarioError(InputError):
    """A scenario file is missing, unreadable or has a wrong field."""


class DataFileError(InputError):
    """A data file is missing, unreadable, or lacks what the step needs."""


class MissingFileError(DataFileError, FileNotFoundError):
    """A file named by the scenario or on the command line does not exist."""


class InfeasibleError(InputError):
    """An optimisation request cannot be met; the message names the constraint."""


class NetworkError(InputError, ConnectionError):
    """Downloading OSM data failed (timeout, HTTP error or empty answer).

    Reported like bad input (exit code 2): the user can switch to an offline file.
    """


class SolverError(SitingError, RuntimeError):
    """The solver failed without an answer (not an infeasibility)."""


class TimeLimitError(SolverError, InputError):
    """The solver's time limit ran out before it found any plan.

    Reported like bad input (exit code 2): the user can raise the time limit
    (``optimize.time_limit_s``) or relax the request.
    """
