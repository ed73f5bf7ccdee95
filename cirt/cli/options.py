"""Option values as an analyst types them: times and durations read in the CIRT's zone.

One parser per kind of option, shared by every command group; a value that is not what the
option takes is a usage error (exit 2), said in one line.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cirt.errors import InvalidValue, UsageError
from cirt.stixtime import parse_duration, parse_when, time_zone

if TYPE_CHECKING:
    from cirt.workspace import Workspace


def when(ws: Workspace, option: str, text: str | None, *, past: bool = False) -> datetime | None:
    """A time option read in the CIRT's zone; a value that is not a time is a usage error."""
    if text is None:
        return None
    try:
        return parse_when(text, ws.clock(), time_zone(ws.config.timezone), past=past)
    except InvalidValue as exc:
        raise UsageError(f"{option}: {exc}") from None


def deadline(ws: Workspace, option: str, text: str | None) -> tuple[timedelta | None, datetime | None]:
    """``--due``: a duration from now keeps its exact length (``4h``); anything else is a time
    in the CIRT's zone (``tomorrow 09:00``).  Returns (duration, instant), one of them set."""
    if text is None:
        return None, None
    try:
        return parse_duration(text), None
    except ValueError:
        return None, when(ws, option, text)


def duration(text: str) -> timedelta:
    """``--within 24h`` from the command line; a bad value is a usage error."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
