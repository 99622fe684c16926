"""Checks of what siting's own code guarantees, kept under ``python -O``.

A value that only a bug in siting can leave out is taken with :func:`present`,
which returns it or raises a :class:`RuntimeError` naming what was missing (the
command-line program reports it as an internal error). A value a caller must give
is checked where it arrives and refused with :class:`siting.errors.InputError`.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None, what: str) -> T:
    """Return ``value``, which siting's own code guarantees is not ``None``.

    Parameters
    ----------
    value
        The value to check.
    what
        What ``value`` is (e.g. ``"sc.network.place"``), for the message.

    Returns
    -------
    T
        ``value`` itself.

    Raises
    ------
    RuntimeError
        When ``value`` is ``None``: an internal inconsistency, not a user's mistake.
    """
    if value is None:
        raise RuntimeError(f"internal error: {what} is missing (None)")
    return value
