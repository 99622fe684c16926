"""What every scenario section is built from: the strict base model, the bounded number
types and the folder-name check.

Every number is finite (:class:`_Strict`) and bounded (the bounds in
:mod:`siting.settings`); :func:`folder_name` checks a name that becomes an output
folder. The sections themselves are in :mod:`siting.sections`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from siting import settings

# Every number is finite (``_Strict``) and bounded: the bounds are in
# siting/settings.py with the reason for each.
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Metres = Annotated[float, Field(ge=0.0, le=settings.MAX_DISTANCE_M)]
PositiveMetres = Annotated[float, Field(gt=0.0, le=settings.MAX_DISTANCE_M)]
Speed = Annotated[float, Field(ge=settings.MIN_SPEED_KPH, le=settings.MAX_SPEED_KPH)]
Minutes = Annotated[float, Field(gt=0.0, le=settings.MAX_MINUTES)]
NonNegativeMinutes = Annotated[float, Field(ge=0.0, le=settings.MAX_MINUTES)]
Kilowatts = Annotated[float, Field(ge=settings.MIN_CHARGER_KW, le=settings.MAX_CHARGER_KW)]
Money = Annotated[float, Field(ge=0.0, le=settings.MAX_MONEY)]
PositiveMoney = Annotated[float, Field(gt=0.0, le=settings.MAX_MONEY)]
Stations = Annotated[int, Field(ge=1, le=settings.MAX_STATIONS)]

#: Characters of a name that becomes a folder (scenario and sweep names).
FOLDER_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def folder_name(value: str) -> str:
    """Check that ``value`` is a plain folder name (it names an output folder).

    Letters, digits, ``_``, ``.`` and ``-``, and neither ``.`` nor ``..``: no path
    separators, spaces, control characters or empty names.

    Raises
    ------
    ValueError
        ``value`` is not a plain folder name.
    """
    if not FOLDER_NAME.fullmatch(value) or value in (".", ".."):
        raise ValueError("expected a plain folder name (letters, digits, _ . -; not . or ..)")
    return value


#: A name that becomes an output folder.
FolderName = Annotated[str, AfterValidator(folder_name)]


class _Strict(BaseModel):
    # strict: no bool for a number, no number for a bool or a string, no string for a
    # number (an int is still a valid float); no inf or nan for a float
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
